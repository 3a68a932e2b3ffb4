"""Loads a written task's documents for lm-eval, from the folder this file is in.

:func:`deltatheory.llm.harness_tasks.write_task` copies this file beside each task YAML it
writes, and the YAML names it (``custom_dataset: !function deltatheory_data.load``), so its
data path is relative to the task folder, not to the working directory (which is how the
datasets library would read a relative ``data_files``): a written task folder can be moved,
copied to another machine or committed, and ``lm-eval run --include_path FOLDER`` still finds
its documents. Needs only the datasets library, which lm-eval brings.
"""

from pathlib import Path


def load(data_files=None, cache_dir=None, **_metadata):
    """The task's splits as a ``DatasetDict``, each JSON-lines file (and a relative
    ``cache_dir``) relative to this folder.

    lm-eval calls it with the YAML's ``metadata`` and ``dataset_kwargs`` as keywords."""
    import datasets

    here = Path(__file__).resolve().parent
    files = {split: str(here / name) for split, name in (data_files or {}).items()}
    if not files:
        raise ValueError("the task YAML's dataset_kwargs must name its data_files")
    if cache_dir is not None:
        cache_dir = str(here / cache_dir)  # an absolute cache_dir stays as it is
    return datasets.load_dataset("json", data_files=files, cache_dir=cache_dir)
