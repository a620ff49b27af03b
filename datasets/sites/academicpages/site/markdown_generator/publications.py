# coding: utf-8
# Publications markdown generator for academicpages.
# Reads publications.tsv and writes one markdown file per row into ../_publications/.
import os
import pandas as pd

html_escape_table = {"&": "&amp;", '"': "&quot;", "'": "&apos;"}


def html_escape(text):
    return "".join(html_escape_table.get(c, c) for c in text)


publications = pd.read_csv("publications.tsv", sep="\t", header=0)

for row, item in publications.iterrows():
    md_filename = str(item.pub_date) + "-" + item.url_slug + ".md"
    html_filename = str(item.pub_date) + "-" + item.url_slug
    md = "---\ntitle: \"" + item.title + '"\n'
    md += "collection: publications\n"
    md += "category: " + item.category + "\n"
    md += "permalink: /publication/" + html_filename + "\n"
    md += "date: " + str(item.pub_date) + "\n"
    md += "venue: '" + html_escape(item.venue) + "'\n"
    md += "citation: '" + html_escape(item.citation) + "'\n"
    md += "---\n"
    with open(os.path.join("..", "_publications", md_filename), "w") as f:
        f.write(md)
