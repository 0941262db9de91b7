"""The federated catalog: crawl members' DSP catalogs, index their datasets, search them.

Pure logic and storage only (no HTTP): the connector's catalog component supplies the fetch
function (its SSRF-guarded client with its DCP credentials) and the database engine.
"""
