"""The static site: the explorer as a folder of files that any static file server hosts (a Hugging Face static
Space, GitHub Pages, `python -m http.server`), decoding in the visitor's browser with onnxruntime-web.

export.py writes the folder (`python -m explorer.export_site`), model_files.py one model's files (its ONNX parts,
checked against PyTorch, and its map data), images.py the image atlas, vendor.py the two libraries the page loads
(plotly.js, onnxruntime-web), and page/ holds the page itself:

    index.html, site.css   the page: a model picker, the latent map view (VAE) and the codes view (VQ-VAE)
    site.js                picks the model and keeps the address bar
    host.js                runs the app's own components (explorer/web/components/*.js) without Gradio
    backend.js             what those components ask the server for in the app, answered in the page
    models.js              the exported models loaded, their decodes (onnxruntime-web), their images
    latent_maths.js        the map <-> latent blend and the nearest images, as explorer/compute/ computes them
    map_view.js            the latent map view, as explorer/web/views/map.py
    codes_view.js          the codes view, as explorer/web/views/codes.py
"""
