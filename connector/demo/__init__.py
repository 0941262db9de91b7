"""`agora demo`: a whole data space in one process, walked through step by step."""
