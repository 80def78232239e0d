#!/usr/bin/env python3
"""Makes fuzz/seeds/<target>/: small files from fixtures/ and ../shared/corpus
(when present) plus small images, PDFs and archives generated here.

Run from the workspace root: python3 fuzz/make_seeds.py. Needs Pillow (with
libtiff) for the generated images. The seeds are committed; run this again
only to change them. Every seed stays under 128 KiB.
"""

import hashlib
import io
import os
import shutil
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared" / "corpus"
MAX_SEED = 128 * 1024


def put(target, name, data):
    if len(data) > MAX_SEED:
        return
    directory = SEEDS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def copy_unique(target, paths, prefix=b""):
    """Copies files, skipping byte-identical ones; names keep their origin."""
    seen = set()
    for path in sorted(paths):
        data = prefix + path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen or len(data) > MAX_SEED:
            continue
        seen.add(digest)
        rel = path.relative_to(path.parents[2]) if len(path.parents) > 2 else path.name
        put(target, str(rel).replace("/", "__"), data)


def page(mode, size=(96, 64)):
    """A small page with some 'text' on it."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for row in range(6, size[1] - 6, 12):
        draw.rectangle([8, row, size[0] - 10 - (row * 3) % 40, row + 5], fill=0)
    if mode == "RGB":
        rgb = Image.merge("RGB", (image, image.point(lambda v: v // 2 + 64), image))
        return rgb
    return image.convert(mode)


def tiff_seeds():
    for path in [FIXTURES / "images" / name for name in ["g4-300dpi.tif", "lzw.tif", "multipage-g4.tif", "garbage-g4.tif"]]:
        put("decode_tiff", path.name, path.read_bytes())
    if SHARED.is_dir():
        for path in sorted((SHARED / "malformed").glob("*.tif")):
            put("decode_tiff", "malformed__" + path.name, path.read_bytes())
    variants = [
        ("1", "group4"), ("1", "group3"), ("1", "tiff_lzw"), ("1", "packbits"), ("1", "raw"),
        ("L", "tiff_lzw"), ("L", "tiff_adobe_deflate"), ("L", "jpeg"), ("L", "raw"), ("L", "packbits"),
        ("RGB", "jpeg"), ("RGB", "tiff_lzw"), ("RGB", "raw"), ("P", "tiff_lzw"), ("I;16", "raw"), ("CMYK", "raw"),
    ]
    for mode, compression in variants:
        out = io.BytesIO()
        image = page("RGB" if mode in ("P", "CMYK") else "L" if mode == "I;16" else mode)
        if mode in ("P", "CMYK", "I;16"):
            image = image.convert(mode)
        image.save(out, "TIFF", compression=compression, dpi=(300, 300))
        put("decode_tiff", f"gen-{mode.replace(';', '')}-{compression}.tif", out.getvalue())
    for byte_order in ("<", ">"):
        out = io.BytesIO()
        pages = [page("1"), page("1", (64, 96)), page("1", (40, 30))]
        pages[0].save(out, "TIFF", compression="group4", save_all=True, append_images=pages[1:], dpi=(200, 200),
                      **({"big_endian": True} if byte_order == ">" else {}))
        put("decode_tiff", f"gen-3pages-g4{'-be' if byte_order == '>' else ''}.tif", out.getvalue())


def raster_seeds():
    for name in ["bitonal.png", "bomb-60000x60000.png", "gray-200dpi.jpg"]:
        put("decode_raster", name, (FIXTURES / "images" / name).read_bytes())
    if SHARED.is_dir():
        for name in ["crom.png", "baiona_colormapped.png", "baiona_gray.png"]:
            path = SHARED / "scans" / "ocrmypdf" / name
            if path.exists():
                put("decode_raster", name, path.read_bytes())
    for mode in ["1", "L", "RGB", "RGBA", "P", "LA", "I;16"]:
        out = io.BytesIO()
        image = page("L" if mode == "I;16" else ("RGB" if mode in ("RGBA", "P") else ("L" if mode == "LA" else mode)))
        image = image.convert(mode)
        image.save(out, "PNG", dpi=(300, 300))
        put("decode_raster", f"gen-{mode.replace(';', '')}.png", out.getvalue())
    out = io.BytesIO()
    page("L").save(out, "PNG", interlace=1)
    put("decode_raster", "gen-L-interlaced.png", out.getvalue())
    for mode, options in [("L", {}), ("RGB", {}), ("RGB", {"progressive": True}), ("CMYK", {}),
                          ("RGB", {"subsampling": 0}), ("L", {"dpi": (150, 150)})]:
        out = io.BytesIO()
        image = page("RGB" if mode == "CMYK" else mode).convert(mode)
        image.save(out, "JPEG", quality=60, dpi=options.pop("dpi", (300, 300)), **options)
        suffix = "-".join(f"{k}{v}" for k, v in options.items())
        put("decode_raster", f"gen-{mode}{'-' + suffix if suffix else ''}.jpg", out.getvalue())


def pdf_with_image(width, height, colour_space, bits, filter_name, data, decode_parms=None, media=None, extra=""):
    """A minimal one-page PDF whose page draws one image XObject."""
    media = media or (width * 72 / 300, height * 72 / 300)
    parms = f"/DecodeParms {decode_parms} " if decode_parms else ""
    filt = f"/Filter /{filter_name} " if filter_name else ""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {media[0]:.2f} {media[1]:.2f}] "
        f"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>".encode(),
        f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace {colour_space} "
        f"/BitsPerComponent {bits} {filt}{parms}{extra}/Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream",
    ]
    content = f"q {media[0]:.2f} 0 0 {media[1]:.2f} 0 0 cm /Im0 Do Q".encode()
    objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def pdf_seeds():
    for name in ["g4-3pages.pdf", "rgb-flate.pdf", "dct-200dpi.pdf"]:
        put("decode_pdf", name, (FIXTURES / "images" / name).read_bytes())
    if SHARED.is_dir():
        for path in sorted((SHARED / "malformed").glob("*.pdf")):
            put("decode_pdf", "malformed__" + path.name, path.read_bytes())
    gray = page("L")
    rgb = page("RGB")
    put("decode_pdf", "gen-gray-flate.pdf", pdf_with_image(96, 64, "/DeviceGray", 8, "FlateDecode", zlib.compress(gray.tobytes())))
    put("decode_pdf", "gen-rgb-raw.pdf", pdf_with_image(96, 64, "/DeviceRGB", 8, None, rgb.tobytes()))
    put("decode_pdf", "gen-bilevel-flate-decode-inverted.pdf",
        pdf_with_image(96, 64, "/DeviceGray", 1, "FlateDecode", zlib.compress(page("1").tobytes()), extra="/Decode [1 0] "))
    palette = bytes(range(0, 256, 32)) * 3
    indexed = bytes(v // 32 for v in gray.tobytes())
    put("decode_pdf", "gen-indexed-flate.pdf",
        pdf_with_image(96, 64, f"[/Indexed /DeviceRGB 7 <{palette[:24].hex()}>]", 8, "FlateDecode", zlib.compress(indexed)))
    put("decode_pdf", "gen-gray-flate-predictor.pdf",
        pdf_with_image(96, 64, "/DeviceGray", 8, "FlateDecode",
                       zlib.compress(b"".join(b"\x00" + gray.tobytes()[r * 96:(r + 1) * 96] for r in range(64))),
                       decode_parms="<< /Predictor 15 /Colors 1 /BitsPerComponent 8 /Columns 96 >>"))
    out = io.BytesIO()
    page("1").save(out, "PDF", resolution=300)
    put("decode_pdf", "gen-pil-ccitt.pdf", out.getvalue())
    out = io.BytesIO()
    page("L").save(out, "PDF", resolution=200, save_all=True, append_images=[page("RGB"), page("1")])
    put("decode_pdf", "gen-pil-3pages.pdf", out.getvalue())


def bag_files(root):
    """A small valid bag under `root/` as (name, bytes) pairs."""
    payload = {"data/a.txt": b"hello\n", "data/dir/b c.txt": b"four"}
    manifest = "".join(f"{hashlib.sha256(b).hexdigest()}  {p}\n" for p, b in payload.items()).encode()
    files = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": b"Payload-Oxum: 10.2\n",
        "manifest-sha256.txt": manifest,
        **payload,
    }
    return [(f"{root}/{name}", data) for name, data in files.items()]


def archive_seeds():
    batches = FIXTURES / "deliveries" / "batches"
    for name in ["SSN-0007-025.zip", "SSN-0007-026.zip"]:
        put("archive", name, (batches / name).read_bytes())
    files = bag_files("BAG-1")
    for method, label in [(zipfile.ZIP_STORED, "stored"), (zipfile.ZIP_DEFLATED, "deflated")]:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", method) as archive:
            archive.writestr("BAG-1/", b"")
            for name, data in files:
                archive.writestr(name, data)
        put("archive", f"gen-bag-{label}.zip", out.getvalue())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("BAG-1/data/zeros.bin", b"\0" * 200_000)
        info = zipfile.ZipInfo("BAG-1/link")
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, b"../../etc/passwd")
    put("archive", "gen-zeros-and-symlink.zip", out.getvalue())
    for fmt, label in [(tarfile.USTAR_FORMAT, "ustar"), (tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")]:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
            directory = tarfile.TarInfo("BAG-1")
            directory.type = tarfile.DIRTYPE
            archive.addfile(directory)
            for name, data in files:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            if fmt != tarfile.USTAR_FORMAT:
                long_name = "BAG-1/data/" + "long-directory-name/" * 6 + "page.txt"
                info = tarfile.TarInfo(long_name)
                info.size = 3
                archive.addfile(info, io.BytesIO(b"abc"))
            link = tarfile.TarInfo("BAG-1/data/link")
            link.type = tarfile.SYMTYPE
            link.linkname = "../../x"
            if label == "gnu":
                archive.addfile(link)
        put("archive", f"gen-bag-{label}.tar", out.getvalue())


def text_seeds():
    batches = FIXTURES / "deliveries" / "batches"
    copy_unique("bag_info", batches.glob("*/bag-info.txt"))
    copy_unique("index_csv", batches.glob("*/data/index.csv"))
    copy_unique("order_csv", list((FIXTURES / "deliveries" / "orders").glob("*.csv")))
    if SHARED.is_dir():
        copy_unique("bag_info", (SHARED / "scans" / "ocr-d-assets").glob("*/bag-info.txt"))
        copy_unique("order_csv", (SHARED / "deliveries" / "orders").glob("*.csv"))
    put("bag_info", "gen-continuations-0.97.txt",
        b"Source-Organization: Scan-Service\r\n  Nord GmbH\rContact-Name: A\n\tand B\nPayload-Oxum: 5.1 \n\nLabel :x\n")
    # manifest: first byte picks the slot, see fuzz_targets/manifest.rs.
    payload = {"data/a.txt": b"hello\n", "data/dir/b c.txt": b"four", "data/100%.txt": b""}

    def manifest(algorithm, entries=payload):
        return "".join(f"{hashlib.new(algorithm, b).hexdigest()}  {p.replace('%', '%25')}\n" for p, b in entries.items()).encode()

    put("manifest", "0-sha256.txt", b"\x00" + manifest("sha256"))
    put("manifest", "1-md5.txt", b"\x01" + manifest("md5"))
    put("manifest", "2-sha512.txt", b"\x02" + manifest("sha512").replace(b"\n", b"\r\n"))
    put("manifest", "3-tagmanifest.txt", b"\x03" + manifest("sha256", {"bagit.txt": b"x", "manifest-sha256.txt": b""}))
    put("manifest", "4-fetch.txt", b"\x04https://example.org/a.txt 6 data/a.txt\nfile:///tmp/x - data/x%0Ay\n")
    put("manifest", "5-bagit.txt", b"\x05\xef\xbb\xbfBagIt-Version: 0.97\r\nTag-File-Character-Encoding: ISO-8859-1\r\n")
    put("manifest", "6-md5-0.97.txt", b"\x06" + manifest("md5").replace(b"  data/a", b" *data/a"))
    copy_unique("manifest", batches.glob("*/manifest-sha256.txt"), prefix=b"\x00")
    if SHARED.is_dir():
        copy_unique("manifest", (SHARED / "scans" / "ocr-d-assets").glob("*/manifest-sha512.txt"), prefix=b"\x02")


def main():
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    text_seeds()
    archive_seeds()
    tiff_seeds()
    raster_seeds()
    pdf_seeds()
    for directory in sorted(SEEDS.iterdir()):
        files = list(directory.iterdir())
        print(f"{directory.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
