"""The Prefect side of operating cutover: the source connection as a block, and `cutover prefect setup`.

The library proper (source, lake, load, sync, validation, rollout, tier) imports no Prefect; this package,
the flows, the tasks, the API's job runner and the CLI's Prefect commands do.
"""
