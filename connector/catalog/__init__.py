"""The federated catalog component: crawls members' DSP catalogs and serves the search."""
