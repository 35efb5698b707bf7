"""The shell commands a page shows, as a reader would type them: fenced bash blocks, continuation lines joined,
here-document bodies skipped, comments dropped, and `a && b` as two commands. tests/test_readme_tour.py and
tests/test_examples_docs.py replay them."""

from __future__ import annotations

import re
import shlex

_FENCE = re.compile(r"^(```|~~~)\s*([\w+-]*)")
_HEREDOC = re.compile(r"<<-?\s*'?(?P<word>\w+)'?")


def section(markdown: str, heading: str) -> str:
    """The text under `heading` (a `## ` line), up to the next heading of the same level."""
    start = markdown.index(f"\n{heading}\n")
    end = markdown.find("\n## ", start + len(heading) + 2)
    return markdown[start : end if end != -1 else len(markdown)]


def shell_blocks(markdown: str) -> list[str]:
    """The bodies of the fenced bash/sh blocks, in order."""
    blocks: list[str] = []
    fence, body = "", list[str]()
    for line in markdown.splitlines():
        if fence:
            if line.startswith(fence):
                blocks.append("\n".join(body))
                fence, body = "", []
            else:
                body.append(line)
            continue
        opened = _FENCE.match(line)
        if opened and opened[2] in ("bash", "sh", "shell"):
            fence = opened[1]
    return blocks


def commands(block: str) -> list[list[str]]:
    """Each command of a block as its words, in order."""
    found: list[list[str]] = []
    lines = iter(block.replace("\\\n", " ").splitlines())
    for line in lines:
        heredoc = _HEREDOC.search(line)
        words = shlex.split(line[: heredoc.start()] if heredoc else line, comments=True)
        if heredoc:
            words.append(f"<<{heredoc['word']}")
            for body in lines:  # the document itself is input, not commands
                if body.strip() == heredoc["word"]:
                    break
        command: list[str] = []
        for word in words:
            if word == "&&":
                found.append(command)
                command = []
            else:
                command.append(word)
        if command:
            found.append(command)
    return found


_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def inline_code(markdown: str) -> list[str]:
    """The text of every inline code span outside fenced blocks."""
    spans: list[str] = []
    fence = ""
    for line in markdown.splitlines():
        opened = _FENCE.match(line)
        if fence:
            fence = "" if line.startswith(fence) else fence
            continue
        if opened:
            fence = opened[1]
            continue
        spans += [span[2].strip() for span in _CODE_SPAN.finditer(line)]
    return spans
