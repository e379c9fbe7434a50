"""Data: GoPro layout discovery and pairing, the LMDB crop writer, the synthetic GoPro-like generator.

Modules: ``source`` (folder or zip read in place), ``png`` (header checks, decoding), ``layout``
(``find_pairs``, ``read_image``), ``lmdb_writer`` (BasicSR-format LMDB, hidden ``.partial`` then rename),
``prepare`` (``prepare_gopro``: one-pass conversion), ``verify``, ``download`` (resumable, checksummed,
locked; the weights cache), ``gdrive`` (Drive URLs, confirmation pages),
``synthetic`` (``make_synthetic_gopro``). Nothing here registers into BasicSR: the
LMDBs are read by BasicSR's own ``PairedImageDataset``.
"""
