#!/usr/bin/env python3
"""Regenerate the email-logo fixtures in tests/fixtures/logos/ with an independent image
writer (Pillow), so the logo checks are tested on files this project did not write.

Needs: pillow (pip). The files are committed; CI never runs this.
Run: .venv/bin/python scripts/make_logo_fixtures.py
"""
import io
import os

from PIL import Image, ImageDraw

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "logos")


def logo(w, h):
    img = Image.new("RGB", (w, h), (31, 95, 191))
    d = ImageDraw.Draw(img)
    d.rectangle([8, 8, w - 9, h - 9], outline=(255, 255, 255), width=4)
    d.ellipse([16, 16, h - 16, h - 16], fill=(255, 200, 40))
    return img


def save(name, img, fmt, **kw):
    with open(os.path.join(OUT, name), "wb") as f:
        img.save(f, fmt, **kw)


def main():
    os.makedirs(OUT, exist_ok=True)
    save("acme.png", logo(240, 80), "PNG")
    save("acme.jpg", logo(240, 80), "JPEG", quality=85)
    # Too wide for an email header.
    save("wide.png", logo(2000, 100), "PNG")
    # A PNG cut short: its image data ends early.
    buf = io.BytesIO()
    logo(240, 80).save(buf, "PNG")
    with open(os.path.join(OUT, "truncated.png"), "wb") as f:
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
    with open(os.path.join(OUT, "script.svg"), "w") as f:
        f.write('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="80">'
                '<script>alert(1)</script><rect width="240" height="80"/></svg>\n')


if __name__ == "__main__":
    main()
