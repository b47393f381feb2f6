"""explorer.web.cache_sweeper.sweep: deletes old cached files, their folders and gr.File's stray empty temp files, keeps
new and protected ones, and survives requests adding files while it runs (Gradio's own delete_cache dies there)."""
import threading
import time

import gradio as gr

from explorer.web.cache_sweeper import start_sweeper, sweep


def cached(root, name: str) -> str:
    """A file as Gradio caches it: <cache>/<hash>/image.png."""
    folder = root / name
    folder.mkdir()
    (folder / "image.png").write_bytes(b"png")
    return str(folder / "image.png")


def blocks(cache):
    with gr.Blocks() as demo:
        image = gr.Image()
    demo.GRADIO_CACHE = str(cache)  # where the sweep looks for gr.File's stray temp files
    return demo, image


def test_sweep_deletes_old_files_and_their_folders_and_keeps_the_rest(tmp_path):
    demo, image = blocks(tmp_path)
    old, kept = cached(tmp_path, "a" * 64), cached(tmp_path, "b" * 64)
    upload = cached(tmp_path, "c" * 64)
    (tmp_path / "tmpstray1").touch()  # the empty file gr.File(type="filepath") leaves per call
    (tmp_path / "tmpnotempty").write_bytes(b"x")
    image.temp_files.update({old, kept, str(tmp_path / "gone" / "image.png")})
    image.keep_in_cache.add(kept)
    demo.upload_file_set.add(upload)

    assert sweep(demo, age=3600) == 0  # nothing that old yet
    assert sweep(demo, age=-1) == 3
    assert not (tmp_path / ("a" * 64)).exists() and not (tmp_path / ("c" * 64)).exists()
    assert not (tmp_path / "tmpstray1").exists() and (tmp_path / "tmpnotempty").exists()
    assert (tmp_path / ("b" * 64) / "image.png").exists()
    assert image.temp_files == {kept} and not demo.upload_file_set


def test_sweep_survives_files_added_while_it_runs(tmp_path):
    demo, image = blocks(tmp_path)

    def add():  # what request handlers do: add cached paths to the live set
        for i in range(20_000):
            image.temp_files.add(str(tmp_path / f"{i:064x}" / "image.png"))
            if i % 20 == 0:
                time.sleep(0)  # let the sweep run in between

    adder = threading.Thread(target=add)
    adder.start()
    passes = 0
    while adder.is_alive() or passes < 3:
        sweep(demo, age=-1)  # a RuntimeError (set changed size during iteration) fails the test
        passes += 1
    adder.join()


def test_start_sweeper_sweeps_in_the_background(tmp_path):
    demo, image = blocks(tmp_path)
    image.temp_files.add(cached(tmp_path, "d" * 64))
    stop = start_sweeper(demo, every=0.05, age=-1)
    try:
        for _ in range(100):
            if not image.temp_files:
                break
            stop.wait(0.05)
    finally:
        stop.set()
    assert not image.temp_files and not (tmp_path / ("d" * 64)).exists()
