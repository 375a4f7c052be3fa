#!/usr/bin/env python3
"""Regenerate the import fixtures in tests/fixtures/import/ with real spreadsheet writers.

Needs: openpyxl and msoffcrypto-tool (pip), and LibreOffice (`apt-get install
libreoffice-calc-nogui`) for the XLS, the LibreOffice XLSX and the CSV exports. The files are
committed; CI never runs this. Run: .venv/bin/python scripts/make_import_fixtures.py
"""
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

import msoffcrypto
import openpyxl
from msoffcrypto.format.ooxml import OOXMLFile

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "import")

# Title row, blank row, Dutch headers, then people (row numbers as a spreadsheet shows them).
ROWS = [
    ["Medewerkers Acme", None, None, None, None],
    [None, None, None, None, None],
    ["E-mailadres", "Voornaam", "Achternaam", "Telefoonnummer", "Wachtwoord"],
    ["anna.devries@example.com", "Anna", "de Vries", "+31 6 12345678", None],
    ["jörg.müller@example.de", "Jörg", "Müller", "0049 30 1234567", "Zeer-geheim-2026!"],
    ["not-an-email", "Piet", "Jansen", None, None],
    ["=cmd|' /C calc'!A0", "Evil", "Formula", None, None],
    ["anna.devries@example.com", "Anna", "Duplicate", None, None],
    ["sophie@example.nl", "Sophie", "Bakker", 31612345679, None],
    ["mallory@example.com", "@SUM(1+1)", "-2+3", None, None],
]


def soffice(src, fmt, outdir):
    subprocess.run(["soffice", "--headless", "--convert-to", fmt, "--outdir", outdir, src], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp()

    # openpyxl: the reference workbook, with a real formula cell in a second sheet's row.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Mensen"
    for r in ROWS:
        ws.append(r)
    ws["B13"] = "Formula"
    ws["A13"] = "formula@example.com"
    ws["C13"] = '=CONCATENATE("a","b")'
    other = wb.create_sheet("Notes")
    other.append(["nothing to import here"])
    path = os.path.join(OUT, "people-openpyxl.xlsx")
    wb.save(path)

    # LibreOffice: XLS (BIFF8) and XLSX re-written from the openpyxl file; CSV exports with ';'
    # in Windows-1252 and with tabs in UTF-16.
    src = os.path.join(tmp, "people.xlsx")
    shutil.copy(path, src)
    soffice(src, "xls", tmp)
    shutil.copy(os.path.join(tmp, "people.xls"), os.path.join(OUT, "people-libreoffice.xls"))
    lo = os.path.join(tmp, "lo")
    os.makedirs(lo)
    soffice(src, "xlsx:Calc MS Excel 2007 XML", lo)
    shutil.copy(os.path.join(lo, "people.xlsx"), os.path.join(OUT, "people-libreoffice.xlsx"))
    soffice(src, "csv:Text - txt - csv (StarCalc):59,34,1,1", tmp)
    shutil.copy(os.path.join(tmp, "people.csv"), os.path.join(OUT, "people-semicolon-1252.csv"))
    os.remove(os.path.join(tmp, "people.csv"))
    soffice(src, "csv:Text - txt - csv (StarCalc):9,34,65535,1", tmp)
    shutil.copy(os.path.join(tmp, "people.csv"), os.path.join(OUT, "people-tab-utf16.csv"))

    hostile(path)
    print("fixtures written to", os.path.abspath(OUT))


def rezip(src, dest, replace=None, add=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if replace and item.filename in replace:
                data = replace[item.filename](data)
            zout.writestr(item, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)


def hostile(good):
    h = lambda name: os.path.join(OUT, name)
    # A sheet declaring the whole grid.
    rezip(good, h("hostile-dimension.xlsx"), replace={
        "xl/worksheets/sheet1.xml": lambda d: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', d),
    })
    # A zip bomb: 200 MB of spaces in the sheet compress to a few hundred KB.
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(h("hostile-bomb.xlsx"), "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (200 * 1024 * 1024))
            z.writestr(item.filename, data)
    # Cut in half.
    with open(good, "rb") as f:
        data = f.read()
    with open(h("hostile-truncated.xlsx"), "wb") as f:
        f.write(data[: len(data) // 2])
    # A macro workbook.
    rezip(good, h("hostile-macro.xlsm"), add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0fake vba"})
    # Protected with a password (ECMA-376 agile encryption, as Excel does).
    enc = io.BytesIO()
    with open(good, "rb") as f:
        OOXMLFile(f).encrypt("secret", enc)
    with open(h("hostile-password.xlsx"), "wb") as f:
        f.write(enc.getvalue())
    # An XLS with one value far out (row 60000, column GR): calamine would size its grid to it.
    tmp = tempfile.mkdtemp()
    far = openpyxl.Workbook()
    far.active.append(["email", "first name"])
    far.active["GR60000"] = "far away"
    src = os.path.join(tmp, "far.xlsx")
    far.save(src)
    soffice(src, "xls", tmp)
    shutil.copy(os.path.join(tmp, "far.xls"), h("hostile-far-cell.xls"))
    # Not UTF-8 and not Windows-1252 either: UTF-8 with damage.
    with open(h("hostile-invalid-utf8.csv"), "wb") as f:
        f.write("email,first_name\nann@example.com,Zoë\n".encode() + b"bob@example.com,Bj\xf6rn\n")


if __name__ == "__main__":
    sys.exit(main())
