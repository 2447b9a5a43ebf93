"""The demo's sample monorepo: three small projects, each really built and tested.

`libfoo` is a C library built with make, `calc` a cmake project with a ctest
test, `scripts` a custom shell build. The PR touches libfoo and scripts; the
comment asks for calc.
"""

from __future__ import annotations

from typing import Any

OWNER, NAME = "tick-org", "monorepo"
REPO = f"{OWNER}/{NAME}"
SYSTEM = "x86_64-linux"
PR_NUMBER = 1
PR_TITLE = "libfoo: add foo_twice"
COMMENT = "Looks good. @tickbot build calc"
AUTHOR = "alice"

_LIBFOO_MAKEFILE = """\
CFLAGS ?= -O2 -Wall
all: libfoo.a
foo.o: foo.c foo.h
\t$(CC) $(CFLAGS) -c foo.c -o foo.o
libfoo.a: foo.o
\t$(AR) rcs libfoo.a foo.o
test_foo: test_foo.c libfoo.a
\t$(CC) $(CFLAGS) test_foo.c libfoo.a -o test_foo
check: test_foo
\t./test_foo
.PHONY: all check
"""

_CALC_CMAKE = """\
cmake_minimum_required(VERSION 3.13)
project(calc C)
enable_testing()
add_executable(calc calc.c)
add_test(NAME adds COMMAND calc 2 3 5)
"""

_CALC_C = """\
#include <stdlib.h>
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    return atoi(argv[1]) + atoi(argv[2]) == atoi(argv[3]) ? 0 : 1;
}
"""

MAIN_FILES: dict[str, str] = {
    "README.md": "# monorepo\n\nlibfoo (make), calc (cmake), scripts (custom).\n",
    "libfoo/Makefile": _LIBFOO_MAKEFILE,
    "libfoo/foo.h": "int foo(int x);\n",
    "libfoo/foo.c": '#include "foo.h"\nint foo(int x) { return x + 1; }\n',
    "libfoo/test_foo.c": '#include "foo.h"\nint main(void) { return foo(1) == 2 ? 0 : 1; }\n',
    "calc/CMakeLists.txt": _CALC_CMAKE,
    "calc/calc.c": _CALC_C,
    "scripts/build.sh": "#!/bin/sh\nset -e\necho building scripts\nsh -n lint.sh && echo syntax ok\n",
    "scripts/lint.sh": "#!/bin/sh\necho lint\n",
}

# The PR's one commit: a new libfoo function and a scripts change.
PR_FILES: dict[str, str] = {
    "libfoo/foo.h": "int foo(int x);\nint foo_twice(int x);\n",
    "libfoo/foo.c": '#include "foo.h"\nint foo(int x) { return x + 1; }\nint foo_twice(int x) { return foo(foo(x)); }\n',
    "libfoo/test_foo.c": '#include "foo.h"\nint main(void) { return foo(1) == 2 && foo_twice(1) == 3 ? 0 : 1; }\n',
    "scripts/lint.sh": "#!/bin/sh\necho lint, twice\n",
}

PROJECTS: list[dict[str, Any]] = [
    {"name": "libfoo", "path": "libfoo", "build_system": "make"},
    {"name": "calc", "path": "calc", "build_system": "cmake"},
    {"name": "scripts", "path": "scripts", "build_system": "custom", "command": "sh build.sh"},
]

# The check runs GitHub ends up showing: the PR's evaluation builds the projects
# it touches as one job; the comment builds calc.
EXPECTED_RUNS = (f"libfoo, scripts on {SYSTEM}", f"calc on {SYSTEM}")
