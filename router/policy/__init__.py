"""The policy language: ``model`` (what may be said), ``checks`` (relations between
parts), ``yamlload`` (safe, located YAML), ``overrides`` (environment) and ``load``
(all of it, in order). Import from the submodules; this package re-exports nothing so
that :mod:`router.errors` can use the vocabulary in :mod:`router.policy.model`.
"""
