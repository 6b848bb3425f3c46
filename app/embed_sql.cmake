# SPDX-License-Identifier: MIT
# Writes OUT, a C file holding every migration in FILES (a |-separated list, in order) as bytes, so
# farmlokal-ctl carries its schema and needs no path to sql/ at run time.
# usage: cmake -DOUT=migrations.c -DFILES="a.sql|b.sql" -P embed_sql.cmake
string(REPLACE "|" ";" FILES "${FILES}")
set(body "/* Generated from sql/ by app/embed_sql.cmake. Do not edit. */\n#include \"ctl.h\"\n\n")
set(table "")
set(i 0)
foreach(f IN LISTS FILES)
  get_filename_component(name "${f}" NAME)
  string(SUBSTRING "${name}" 0 3 version)
  math(EXPR version "${version}")
  file(READ "${f}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "static const char m${i}[] = {${bytes}0x00};\n")
  string(APPEND table "    {${version}, \"${name}\", m${i}, ${len}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nconst struct fl_migration fl_migrations[] = {\n${table}};\n")
string(APPEND body "const size_t fl_n_migrations = ${i};\n")
file(WRITE "${OUT}.tmp" "${body}")
file(RENAME "${OUT}.tmp" "${OUT}")
