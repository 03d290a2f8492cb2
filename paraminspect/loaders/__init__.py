"""The load stage: MODEL spec -> LoadedModel (see dispatch.load)."""
