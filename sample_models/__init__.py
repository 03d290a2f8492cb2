"""Small factories used by the tests and the README (`paraminspect show sample_models.mlp:build`)."""
