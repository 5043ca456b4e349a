#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kdoc-render.py: fill a documentation template from a header's kernel-doc.

    kdoc-render.py --format man|md --rst FILE --header FILE --template FILE
                   [--source PATH] [--link PATH] [--generator TEXT]

FILE of --rst is what the kernel's scripts/kernel-doc prints for the header
with "-rst -enable-lineno -sphinx-version 3.4.3".  The template is copied to
stdout, each placeholder line replaced by the entries it names:

    man:  .\\" kernel-doc: SELECTOR
    md:   <!-- kernel-doc: SELECTOR -->

SELECTOR is one of
    doc TITLE          the body of a "DOC: TITLE" block
    struct NAME        a struct: definition, members, description, and the
                       #defines named after it (SIGWAKE_<NAME>_*)
    ioctl CMD          an ioctl command: its number, its argument struct as
                       for "struct"
    enum NAME          an enum: its constants with their values
    macros NAME...     documented object-like macros, with their values
    ioctl-table        every ioctl command: number, name, argument struct
    skip KIND NAME     an entry left out on purpose (say why in a comment)

Template lines that start with '.\\"#' (man) and comments that start with
'<!--#' (md) are the template's own and are dropped.

Every kernel-doc entry of the header and every #define of the header
(but the include guard, the ioctl commands and what the YNL-GEN section
holds) must be placed exactly once, or the run fails: nothing the header
says is left out of the documentation.  Exit status 1 on any error.
"""

import argparse
import re
import sys

ERRNOS = set()          # filled from the "errors" DOC table
SIGNALS = {"SIGKILL", "SIGSTOP", "SIGINT", "ERESTARTSYS"}


def die(msg):
    sys.stderr.write("kdoc-render: %s\n" % msg)
    sys.exit(1)


# --- reading kernel-doc's rst output ------------------------------------

class Entry:
    def __init__(self, kind, name):
        self.kind = kind        # doc, struct, enum, macro
        self.name = name
        self.purpose = ""
        self.line = 0           # header line of the kernel-doc comment
        self.definition = []    # struct: code lines
        self.members = []       # [(name, [lines])]
        self.body = []          # description / DOC body lines
        self.used = False


def parse_rst(text):
    entries = {}
    order = []
    cur = None
    section = None
    pending_lineno = None
    member = None
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        ln = lines[i]
        i += 1
        m = re.match(r"^\.\. LINENO (\d+)$", ln)
        if m:
            pending_lineno = int(m.group(1))
            continue
        m = re.match(r"^\.\. c:(struct|enum|macro|union|function|type)::\s+(.*)$", ln)
        m2 = re.match(r"^\.\. _(.*):$", ln)
        if m or m2:
            if m:
                kind, name = m.group(1), m.group(2).strip()
                if kind not in ("struct", "enum", "macro"):
                    die("unsupported kernel-doc entry: %s" % ln)
            else:
                kind, name = "doc", m2.group(1)
            cur = Entry(kind, name)
            key = (kind, name)
            if key in entries:
                die("%s %s documented twice" % key)
            entries[key] = cur
            order.append(cur)
            section = "head"
            member = None
            pending_lineno = None
            continue
        if cur is None:
            if ln.strip():
                die("text before the first entry: %r" % ln)
            continue
        m = re.match(r"^\*\*(Definition|Members|Constants|Parameters|Description)\*\*$", ln)
        if m and cur.kind != "doc":
            section = m.group(1)
            member = None
            continue
        if section == "head":
            if cur.kind == "doc":
                if ln == "**%s**" % cur.name:
                    continue
                if ln.strip() or cur.body:
                    if pending_lineno and not cur.line:
                        cur.line = pending_lineno
                    section = "body"
                    cur.body.append(ln)
                elif pending_lineno and not cur.line:
                    cur.line = pending_lineno
                continue
            if ln.startswith("``") and cur.kind == "macro":
                continue        # "``NAME ()``", the macro's synopsis
            if ln.startswith("   ") and ln.strip():
                if not cur.line and pending_lineno:
                    cur.line = pending_lineno
                cur.purpose = (cur.purpose + " " + ln.strip()).strip()
            elif ln.strip():
                die("%s %s: unexpected line %r" % (cur.kind, cur.name, ln))
            continue
        if section == "body":
            cur.body.append(ln)
        elif section == "Definition":
            if ln.strip() == "::" or (not ln.strip() and not cur.definition):
                continue
            cur.definition.append(ln)
        elif section in ("Members", "Constants"):
            m = re.match(r"^``([^`]+)``$", ln)
            if m:
                member = (m.group(1), [])
                cur.members.append(member)
            elif member is not None:
                member[1].append(ln[2:] if ln.startswith("  ") else ln)
            elif ln.strip():
                die("%s %s: text outside a member: %r" % (cur.kind, cur.name, ln))
        elif section == "Parameters":
            if ln.strip():
                die("%s %s has parameters: not an object-like macro" % (cur.kind, cur.name))
        elif section == "Description":
            cur.body.append(ln)
    for e in order:
        while e.definition and not e.definition[-1].strip():
            e.definition.pop()
        for _, text in e.members:
            while text and not text[-1].strip():
                text.pop()
        while e.body and not e.body[-1].strip():
            e.body.pop()
        while e.body and not e.body[0].strip():
            e.body.pop(0)
    return entries, order


# --- reading the header itself ------------------------------------------

class Header:
    def __init__(self, path):
        self.defines = {}           # name -> value, in order
        self.enum_values = {}       # constant -> value
        self.ioctls = []            # (cmd, number name, struct)
        self.cmd_numbers = {}
        text = open(path).read()
        text = re.sub(r"/\* YNL-GEN section begin.*?/\* YNL-GEN section end \*/",
                      "", text, flags=re.S)
        self.text = text
        joined = re.sub(r"\\\n\s*", " ", text)
        for m in re.finditer(r"^#define\s+(SIGWAKE_\w+)\s+(.*?)\s*$", joined, re.M):
            name, value = m.group(1), m.group(2)
            im = re.match(r"_IOWR\(SIGWAKE_IOC_MAGIC,\s*(SIGWAKE_CMD_\w+),\s*struct\s+(\w+)\)$", value)
            if im:
                self.ioctls.append((name, im.group(1), im.group(2)))
            elif name.startswith("SIGWAKE_IOC_") and name != "SIGWAKE_IOC_MAGIC":
                die("%s is not _IOWR(SIGWAKE_IOC_MAGIC, SIGWAKE_CMD_*, struct ...)" % name)
            else:
                self.defines[name] = value
        for m in re.finditer(r"^\s*(SIGWAKE_\w+)\s*=\s*(\w+)\s*,?\s*$", text, re.M):
            self.enum_values[m.group(1)] = m.group(2)


# --- the text of a body: paragraphs, lists, simple tables -----------------

def indent_of(s):
    return len(s) - len(s.lstrip(" "))


ITEM = re.compile(r"^(\s*)(-|\*|\d+\.)\s+(.*)$")
BORDER = re.compile(r"^\s*=+(\s+=+)+\s*$")


def blocks(lines):
    """Split body lines into ("p", text), ("list", ordered, [text]) and
    ("table", [(key, text)]) blocks; the texts are joined into one line."""
    out = []
    i = 0
    n = len(lines)
    while i < n:
        ln = lines[i]
        if not ln.strip():
            i += 1
            continue
        if BORDER.match(ln):
            cols = [m.start() for m in re.finditer(r"=+", ln)]
            if len(cols) != 2:
                die("only two-column tables are supported: %r" % ln)
            rows = []
            i += 1
            while i < n and not BORDER.match(lines[i]):
                row = lines[i]
                key = row[:cols[1]].strip()
                val = row[cols[1]:].strip()
                if key:
                    rows.append([key, val])
                elif rows and val:
                    rows[-1][1] = re.sub(r"\s+", " ", rows[-1][1] + " " + val)
                elif row.strip():
                    die("table row without a key: %r" % row)
                i += 1
            if i >= n:
                die("table without a closing border")
            i += 1
            out.append(("table", [tuple(r) for r in rows]))
            continue
        m = ITEM.match(ln)
        if m:
            ordered = m.group(2)[0].isdigit()
            base = len(m.group(1))
            items = []
            while i < n:
                m = ITEM.match(lines[i])
                if m and len(m.group(1)) == base:
                    items.append(re.sub(r"\s+", " ", m.group(3).strip()))
                    i += 1
                    continue
                if lines[i].strip() and indent_of(lines[i]) > base and items:
                    items[-1] = re.sub(r"\s+", " ", items[-1] + " " + lines[i].strip())
                    i += 1
                    continue
                if not lines[i].strip() and i + 1 < n:
                    m = ITEM.match(lines[i + 1])
                    if m and len(m.group(1)) == base:
                        i += 1
                        continue
                break
            out.append(("list", ordered, items))
            continue
        para = []
        while i < n and lines[i].strip() and not ITEM.match(lines[i]) \
                and not BORDER.match(lines[i]):
            if lines[i].rstrip().endswith("::"):
                die("rst literal blocks are not supported: %r" % lines[i])
            para.append(lines[i].strip())
            i += 1
        out.append(("p", re.sub(r"\s+", " ", " ".join(para))))
    return out


# --- inline markup ---------------------------------------------------------

TOKEN = re.compile(r"""
      \*\*(?P<param>[^*]+)\*\*
    | ``(?P<code>[^`]+)``
    | :c:\w+:`(?P<ref>[^`<]+?)(?:\s*<[^>]*>)?`
    | (?P<type>\b(?:struct|enum)\ (?:sigwake_[a-z0-9_]+|pollfd)(?:\.[a-z_][a-z0-9_]*)?)
    | (?P<manref>\b[a-z_][a-z0-9_]*\((?:[1-8])\))
    | (?P<func>\b[A-Za-z_][A-Za-z0-9_]*\(\))
    | (?P<const>\bSIGWAKE_[A-Z0-9_*]*[A-Z0-9*]|\b[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]\b
        |\bE[A-Z0-9]{2,}\b|\bSIG[A-Z]{3,}\b|\bPOLL[A-Z]+\b)
    | (?P<ident>\b[a-z_][a-z0-9]*_[a-z0-9_]*(?:->[a-z_][a-z0-9_]*)*\b)
""", re.X)


def is_const(tok):
    if tok.startswith("SIGWAKE_") or "_" in tok:
        return True
    if tok.startswith("POLL"):
        return True
    return tok in ERRNOS or tok in SIGNALS


def man_escape(s):
    s = s.replace("\\", "\\e")
    s = re.sub(r"(^|(?<=[\s(]))-(?=[\d\s])", r"\\-", s)
    return s


def man_mark(kind, tok):
    """Parameters, members and types in italics, other names in bold."""
    if kind in ("param", "ident", "type"):
        return "\\fI%s\\fP" % man_escape(tok)
    if kind == "manref":
        return "\\fB%s\\fP%s" % (man_escape(tok[:-3]), tok[-3:])
    if kind == "func":
        return "\\fB%s\\fP()" % man_escape(tok[:-2])
    return "\\fB%s\\fP" % man_escape(tok)


def md_escape(s):
    return re.sub(r"([\\*_<>\[\]|~`#])", r"\\\1", s)


def inline(text, escape, mark):
    """Mark up the names in text, escape the rest."""
    out = []
    pos = 0
    for m in TOKEN.finditer(text):
        kind = m.lastgroup
        tok = m.group(kind)
        if kind == "const" and not is_const(tok):
            continue
        out.append(escape(text[pos:m.start()]))
        out.append(mark(kind, tok))
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def man_inline(text):
    return inline(text, man_escape, man_mark)


def md_inline(text):
    return inline(text, md_escape, lambda kind, tok: "`%s`" % tok)


def c_code(e, defines, indent):
    """A struct's definition as kernel-doc gives it, members indented by
    indent, then its #defines."""
    code = []
    for ln in e.definition:
        ln = ln[2:] if ln.startswith("  ") else ln
        code.append(indent + ln.lstrip() if ln.startswith("  ") else ln)
    if defines:
        width = max(len(n) for n, _ in defines)
        code += [""] + ["#define %-*s  %s" % (width, n, v) for n, v in defines]
    return code


def sentence(s):
    s = s.strip()
    return s if not s or s[-1] in ".:;!?" else s + "."


# --- man output ------------------------------------------------------------

def man_lines(text):
    """Filled text, one sentence per line, no line starting with a dot."""
    parts = re.split(r"(?<=[.?!])\s+(?=[A-Z0-9*])", text)
    res = []
    for p in map(man_inline, parts):
        if p[:1] in (".", "'"):
            p = "\\&" + p
        res.append(p)
    return res


class Man:
    def __init__(self, hdr):
        self.hdr = hdr

    def body(self, lines, nested=False):
        """Top level: paragraphs .PP, lists .IP, tables .TP.  Nested (in a
        .TP item): paragraphs .IP, lists and tables inside .RS/.RE."""
        out = []
        first = True
        for b in blocks(lines):
            if b[0] == "p":
                if not first:
                    out.append(".IP" if nested else ".PP")
                out.extend(man_lines(b[1]))
                first = False
                continue
            items = []
            if b[0] == "list":
                for k, item in enumerate(b[2]):
                    items.append(".IP %d. 4" % (k + 1) if b[1] else ".IP \\(bu 2")
                    items.extend(man_lines(item))
            else:
                for key, val in b[1]:
                    items += [".TP", ".B %s" % man_escape(key)] + man_lines(val)
            if nested:
                out += [".RS"] + items + [".RE"]
            else:
                out += items + [".PP"]
            first = not nested
        while out and out[-1] == ".PP":
            out.pop()
        return out

    def code(self, lines):
        return [".PP", ".in +4n", ".EX"] + \
               [man_escape(ln).replace("\\-", "-") .replace("-", "\\-") if ln else ""
                for ln in lines] + [".EE", ".in"]

    def struct(self, e, defines, with_purpose=True):
        out = []
        if with_purpose:
            out += [".PP", "\\fBstruct %s\\fP \\- %s" % (e.name, man_inline(e.purpose))]
        out += self.code(c_code(e, defines, "    "))
        for name, text in e.members:
            out += [".TP", ".I %s" % name] + self.body(text, nested=True)
        if e.body:
            out += [".PP"] + self.body(e.body)
        return out

    def enum(self, e):
        out = [".PP", "\\fBenum %s\\fP \\- %s" % (e.name, man_inline(sentence(e.purpose)))]
        for name, text in e.members:
            value = self.hdr.enum_values.get(name)
            if value is None:
                die("no value for %s" % name)
            out += [".TP", "\\fB%s\\fP = %s" % (name, value)]
            out += self.body(text, nested=True)
        if e.body:
            out += [".PP"] + self.body(e.body)
        return out

    def macros(self, es):
        out = []
        for e in es:
            value = man_escape(self.hdr.defines[e.name]).replace('"', "\\(dq")
            out += [".TP", "\\fB%s\\fP = %s" % (e.name, value)]
            out += man_lines(sentence(e.purpose))
            if e.body:
                out += [".IP"] + self.body(e.body, nested=True)
        return out

    def ioctl(self, cmd, number, e, defines):
        value = self.hdr.enum_values[number]
        out = [".SS %s" % cmd,
               "Number %s" % value,
               ".RB ( %s )," % number,
               "argument",
               ".BR \"struct %s\" ." % e.name]
        return out + self.struct(e, defines, with_purpose=False)

    def doc(self, e):
        return self.body(e.body)

    def ioctl_table(self, rows):
        out = []
        for cmd, number, struct in rows:
            out += [".TP", "\\fB%s\\fP = %s" % (cmd, self.hdr.enum_values[number]),
                    "\\fBstruct %s\\fP" % struct]
        return out


# --- Markdown output -------------------------------------------------------

class Md:
    def __init__(self, hdr, source, link):
        self.hdr = hdr
        self.source = source
        self.link = link

    def where(self, e):
        return "[%s:%d](%s#L%d)" % (self.source, e.line, self.link, e.line)

    def body(self, lines):
        out = []
        for b in blocks(lines):
            if b[0] == "p":
                out += [md_inline(b[1]), ""]
            elif b[0] == "list":
                for k, item in enumerate(b[2]):
                    out.append(("%d. " % (k + 1) if b[1] else "- ") + md_inline(item))
                out.append("")
            elif b[0] == "table":
                out += ["| name | meaning |", "|---|---|"]
                out += ["| `%s` | %s |" % (k, md_inline(v)) for k, v in b[1]]
                out.append("")
        return out

    def cell(self, lines):
        parts = []
        for b in blocks(lines):
            if b[0] == "p":
                parts.append(md_inline(b[1]))
            elif b[0] == "list":
                parts.append(" ".join(("%d. " % (k + 1) if b[1] else "- ") + md_inline(t)
                                      for k, t in enumerate(b[2])))
            else:
                parts.append(" ".join("`%s`: %s" % (k, md_inline(v)) for k, v in b[1]))
        return "<br><br>".join(parts)

    def code(self, lines):
        return ["```c"] + lines + ["```", ""]

    def struct(self, e, defines, with_purpose=True):
        out = []
        if with_purpose:
            out += ["**struct %s**: %s (%s)" % (e.name, md_inline(e.purpose.rstrip(".")),
                                               self.where(e)), ""]
        else:
            out += ["Source: %s." % self.where(e), ""]
        out += self.code(c_code(e, defines, "\t"))
        out += ["| field | meaning |", "|---|---|"]
        out += ["| `%s` | %s |" % (n, self.cell(t)) for n, t in e.members]
        out.append("")
        out += self.body(e.body)
        return out

    def enum(self, e):
        out = ["**enum %s**: %s (%s)" % (e.name, md_inline(e.purpose.rstrip(".")),
                                         self.where(e)), ""]
        out += ["| name | value | meaning |", "|---|---|---|"]
        for name, text in e.members:
            out.append("| `%s` | %s | %s |" % (name, self.hdr.enum_values[name], self.cell(text)))
        out.append("")
        out += self.body(e.body)
        return out

    def macros(self, es):
        out = ["| name | value | meaning |", "|---|---|---|"]
        for e in es:
            text = md_inline(sentence(e.purpose))
            if e.body:
                text += " " + self.cell(e.body)
            out.append("| `%s` | `%s` | %s (%s) |" % (e.name, self.hdr.defines[e.name],
                                                        text, self.where(e)))
        out.append("")
        return out

    def ioctl(self, cmd, number, e, defines):
        value = self.hdr.enum_values[number]
        out = ["## %s" % cmd, "",
               "`_IOWR(SIGWAKE_IOC_MAGIC, %s, struct %s)`, number %s." % (number, e.name, value),
               ""]
        return out + self.struct(e, defines, with_purpose=False)

    def doc(self, e):
        return ["Source: %s." % self.where(e), ""] + self.body(e.body)

    def ioctl_table(self, rows):
        out = ["| number | enum | ioctl | struct |", "|---|---|---|---|"]
        for cmd, number, struct in rows:
            out.append("| %s | `%s` | [`%s`](#%s) | `struct %s` |" %
                       (self.hdr.enum_values[number], number, cmd, cmd.lower(), struct))
        out.append("")
        return out


# --- the template ------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--format", choices=("man", "md"), required=True)
    ap.add_argument("--rst", required=True)
    ap.add_argument("--header", required=True)
    ap.add_argument("--template", required=True)
    ap.add_argument("--source", default="uapi/linux/sigwake.h")
    ap.add_argument("--link", default="../uapi/linux/sigwake.h")
    ap.add_argument("--generator", default="scripts/gen-docs.sh")
    args = ap.parse_args()

    entries, order = parse_rst(open(args.rst).read())
    hdr = Header(args.header)
    errs = entries.get(("doc", "errors"))
    if errs:
        for b in blocks(errs.body):
            if b[0] == "table":
                ERRNOS.update(k for k, _ in b[1])
    r = Man(hdr) if args.format == "man" else Md(hdr, args.source, args.link)
    placed_defines = set()
    placed_ioctls = set()

    def get(kind, name):
        e = entries.get((kind, name))
        if e is None:
            die("%s: no kernel-doc for %s %s" % (args.template, kind, name))
        if e.used:
            die("%s: %s %s placed twice" % (args.template, kind, name))
        e.used = True
        return e

    def struct_defines(name):
        prefix = "SIGWAKE_" + re.sub(r"^sigwake_|_args$", "", name).upper() + "_"
        ds = [(n, v) for n, v in hdr.defines.items()
              if n.startswith(prefix) and (("macro", n) not in entries)]
        for n, _ in ds:
            if n in placed_defines:
                die("#define %s placed twice" % n)
            placed_defines.add(n)
        return ds

    if args.format == "man":
        pat = re.compile(r'^\.\\" kernel-doc: (.*?)\s*$')
        drop = re.compile(r'^\.\\"#')
    else:
        pat = re.compile(r"^<!-- kernel-doc: (.*?) -->\s*$")
        drop = re.compile(r"^<!--#")
    out = []
    tmpl = open(args.template).read().split("\n")
    if tmpl and tmpl[-1] == "":
        tmpl.pop()
    notice = ("Generated by %s from %s (kernel-doc) and %s: do not edit."
              % (args.generator, args.source, args.template))
    if args.format == "md":
        out.append("<!-- %s -->" % notice)
    dropping = False
    for k, ln in enumerate(tmpl):
        if dropping or drop.match(ln):
            dropping = args.format == "md" and "-->" not in ln
            continue
        m = pat.match(ln)
        if not m:
            out.append(ln)
            if k == 0 and args.format == "man":
                out.append('.\\" ' + notice)
            continue
        words = m.group(1).split()
        what, rest = words[0], words[1:]
        if what == "doc":
            out += r.doc(get("doc", " ".join(rest)))
        elif what == "struct":
            out += r.struct(get("struct", rest[0]), struct_defines(rest[0]))
        elif what == "enum":
            out += r.enum(get("enum", rest[0]))
        elif what == "macros":
            es = [get("macro", n) for n in rest]
            for e in es:
                if e.name not in hdr.defines:
                    die("no #define %s" % e.name)
                placed_defines.add(e.name)
            out += r.macros(es)
        elif what == "ioctl":
            found = [t for t in hdr.ioctls if t[0] == rest[0]]
            if not found:
                die("no ioctl %s" % rest[0])
            cmd, number, struct = found[0]
            if cmd in placed_ioctls:
                die("ioctl %s placed twice" % cmd)
            placed_ioctls.add(cmd)
            out += r.ioctl(cmd, number, get("struct", struct), struct_defines(struct))
        elif what == "ioctl-table":
            out += r.ioctl_table(hdr.ioctls)
        elif what == "skip":
            get(rest[0], rest[1])
            if rest[0] == "macro":
                placed_defines.add(rest[1])
        else:
            die("%s: unknown selector %r" % (args.template, what))

    unused = ["%s %s" % (e.kind, e.name) for e in order if not e.used]
    if unused:
        die("%s does not place: %s" % (args.template, ", ".join(unused)))
    guard = re.compile(r"_H$")
    left = [n for n in hdr.defines if n not in placed_defines and not guard.search(n)
            and not n.startswith("SIGWAKE_NL_") and not n.startswith("SIGWAKE_GENL_")]
    if left:
        die("%s does not place #define %s" % (args.template, ", ".join(left)))
    missing = sorted({t[0] for t in hdr.ioctls} - placed_ioctls)
    if missing:
        die("%s does not place ioctl %s" % (args.template, ", ".join(missing)))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
