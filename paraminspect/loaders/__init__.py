"""The load stage: MODEL spec -> LoadedModel. Which form a spec is, and which function here
loads or lists it, is paraminspect.forms.FORMS; dispatch.load calls that function with a
loaded.LoadRequest. timm.py, factory.py, hf.py build models (build.py: on meta, CPU
fallback; fastmeta.py; guard.py: no network), checkpoints/ lists stored tensors.
"""
