#!/usr/bin/env python3
"""Writes the small binary fixtures of tests/kb (committed; rerun to regenerate):

  two_pages.pdf    a minimal PDF 1.4 written by hand: Title "Deepkb Manual", Author "Ada",
                   page 1 "Installing deepkb on Linux", page 2 "Searching with BM25"
  encrypted.pdf    two_pages.pdf encrypted by `qpdf --encrypt user owner 256` (Debian qpdf)
  report.docx      a WordprocessingML package written with zipfile: Title, Heading 1/2
                   styles, body paragraphs and a 2x3 table; dc:title "Quarterly Report"
  not_docx.zip     a valid zip archive without word/document.xml
"""
import os
import subprocess
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def pdf(pages, title, author):
    objs = []
    n = len(pages)
    # 1 catalog, 2 pages, 3 font, 4 info, then (page, content) pairs
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(n))
    objs.append("<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>")
    objs.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objs.append(f"<< /Title ({title}) /Author ({author}) >>")
    for i, lines in enumerate(pages):
        ops = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({l}) Tj T*" for l in lines) + " ET"
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                    f"/Resources << /Font << /F1 3 0 R >> >> /Contents {6 + 2 * i} 0 R >>")
        objs.append(f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs):
        offsets.append(len(out))
        out += f"{i + 1} 0 obj\n{o}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info 4 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return out


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def para(text, style=None):
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f'<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def docx(path):
    body = "".join([
        para("Quarterly Report", "Title"),
        para("Revenue", "Heading1"),
        para("Revenue grew by twelve percent."),
        para("Europe", "Heading2"),
        '<w:p><w:r><w:t>Sales in Europe</w:t></w:r><w:r><w:tab/><w:t>doubled.</w:t></w:r></w:p>',
        '<w:tbl><w:tr><w:tc>' + para("Region") + '</w:tc><w:tc>' + para("Q1") + '</w:tc><w:tc>'
        + para("Q2") + '</w:tc></w:tr><w:tr><w:tc>' + para("EU") + '</w:tc><w:tc>' + para("10")
        + '</w:tc><w:tc>' + para("20") + '</w:tc></w:tr></w:tbl>',
        para("Costs", "Heading1"),
        para("Costs stayed flat."),
    ])
    document = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {W}><w:body>{body}<w:sectPr/></w:body></w:document>'
    styles = (f'<?xml version="1.0" encoding="UTF-8"?>\n<w:styles {W}>'
              '<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/></w:style>'
              '</w:styles>')
    core = ('<?xml version="1.0" encoding="UTF-8"?>\n<cp:coreProperties '
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Quarterly Report</dc:title>'
            '<dc:creator>Grace</dc:creator></cp:coreProperties>')
    types = ('<?xml version="1.0" encoding="UTF-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
             '</Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            '</Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in [("[Content_Types].xml", types), ("_rels/.rels", rels),
                           ("word/document.xml", document), ("word/styles.xml", styles),
                           ("docProps/core.xml", core)]:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def main():
    p = os.path.join(HERE, "two_pages.pdf")
    with open(p, "wb") as f:
        f.write(pdf([["Installing deepkb on Linux", "Run the setup script first."],
                     ["Searching with BM25", "Queries find Chinese terms too."]],
                    "Deepkb Manual", "Ada"))
    subprocess.run(["qpdf", "--encrypt", "user", "owner", "256", "--", p,
                    os.path.join(HERE, "encrypted.pdf")], check=True)
    docx(os.path.join(HERE, "report.docx"))
    with zipfile.ZipFile(os.path.join(HERE, "not_docx.zip"), "w") as z:
        info = zipfile.ZipInfo("hello.txt", date_time=(2024, 1, 1, 0, 0, 0))
        z.writestr(info, "hello")


if __name__ == "__main__":
    main()
