"""The static site: the explorer as a folder of files that any static file server hosts (a Hugging Face static
Space, GitHub Pages, `python -m http.server`), decoding in the visitor's browser with onnxruntime-web.

export.py writes the folder (`python -m explorer.export_site`), model_files.py one model's files (its ONNX parts,
checked against PyTorch, and its map data), vendor.py the two libraries the page loads (plotly.js, onnxruntime-web),
and page/ holds the page itself: its HTML, the host that runs the app's own components (explorer/web/components/*.js)
without Gradio, and the backend that answers them from the exported files.
"""
