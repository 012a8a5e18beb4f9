"""Integrations of the router with frameworks. Each submodule imports its framework
itself (an optional extra); importing ``router.contrib`` imports none of them.

- :mod:`router.contrib.django`: ``RouterStorage``, a Django file storage
  (``pip install storage-router[django]``).
"""
