# embed.cmake — writes OUT, a C file defining `const char NAME[]` with the
# bytes of INPUT and a final NUL. Used to put the runtime's source into nnc,
# which copies it into the standalone C programs it writes.
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* generated from ${INPUT} */\nconst char ${NAME}[] = {${bytes}0};\n")
