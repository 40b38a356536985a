"""The controls each notebook's widgets must show in JupyterLab (issue 10, point 5).

The browser tests check every widget of every notebook, whether it is listed here or not: each one
renders, and changing each of its controls changes its output. This table adds what a notebook
promises: the descriptions of its controls, so that a widget that silently disappears (or turns
into a static picture) fails the tests. A notebook issue adds its notebook here.
"""

EXPECTED_CONTROLS: dict[str, set[str]] = {
    "00_welcome": {"digit", "show"},
    "01_modalities": {"snr_db", "fraction"},
    "02_pipelines": {"index", "question", "colour_1", "shape_1", "cell_1", "colour_2", "shape_2", "cell_2"},
    "03_attention": {"query", "temperature"},
    "03b_attention_further": {"query", "temperature"},
    "03c_real_voices": {"speaker", "digit"},
    "04_positional_encoding": {"position", "dimension"},
    "05_fusion": {"pair", "snr_db", "image_severity", "image"},
    "06_contrastive_clip": {"caption", "colour", "shape", "temperature", "direction"},
    "07_diffusion": {"t", "schedule", "guidance_scale", "space"},
    "08_foundation_models": {"scene", "objective", "hide"},
}
