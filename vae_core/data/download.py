"""Fetch the MNIST-format data sets from their canonical mirrors, verifying MD5 checksums."""
import hashlib
import os
import urllib.request
from pathlib import Path

from .idx import DataError

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# name -> (mirrors, {file: md5}); the checksums are the published ones (as torchvision uses)
SOURCES = {
    "fashion-mnist": (
        ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
        dict(zip(FILES, ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                         "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"])),
    ),
    "mnist": (
        ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"],
        dict(zip(FILES, ["f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                         "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"])),
    ),
}


def cache_dir() -> Path:
    return Path(os.environ.get("VAE_EXPLORER_CACHE", Path.home() / ".cache" / "vae-explorer"))


def md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(name: str, dest: Path, mirrors: list[str] | None = None, log=print) -> Path:
    """Download the four IDX files of `name` into dest, trying each mirror; returns dest.

    A file whose MD5 does not match is deleted and the next mirror is tried.
    """
    default_mirrors, checksums = SOURCES[name]
    mirrors = mirrors or default_mirrors
    dest.mkdir(parents=True, exist_ok=True)
    for fname, expected in checksums.items():
        target = dest / fname
        if target.exists() and md5(target) == expected:
            continue
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + fname
            tmp = target.with_suffix(".part")
            try:
                log(f"downloading {url}")
                with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
                    while chunk := r.read(1 << 20):
                        f.write(chunk)
            except OSError as e:
                tmp.unlink(missing_ok=True)
                errors.append(f"{url}: {e}")
                continue
            got = md5(tmp)
            if got != expected:
                tmp.unlink()
                errors.append(f"{url}: checksum mismatch (md5 {got}, expected {expected}); deleted the file")
                log(errors[-1])
                continue
            os.replace(tmp, target)
            break
        else:
            raise DataError(
                f"could not download {fname} for {name}:\n  " + "\n  ".join(errors)
                + f"\nDownload the files by hand into {dest} or pass --data-dir."
            )
    return dest
