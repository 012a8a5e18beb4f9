"""The Django test project of the RouterStorage tests."""
