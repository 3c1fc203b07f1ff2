/* embed -- turns the files named on the command line into one C file holding their bytes.
 * Output: a table of struct embedded_file {name, data, len}, read through src/common/embedded.h.
 * Every array is NUL-terminated so text files can be used as C strings. */
#include <stdio.h>
#include <stdlib.h>

static int
emit(FILE *out, const char *path, int idx)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    fprintf(out, "static const unsigned char f%d[] = {", idx);
    int c;
    long n = 0;
    while ((c = fgetc(f)) != EOF) {
        fprintf(out, "%s%d,", (n % 24) ? "" : "\n", c);
        n++;
    }
    fprintf(out, "0};\n");
    fclose(f);
    return 0;
}

int
main(int argc, char **argv)
{
    printf("#include \"common/embedded.h\"\n");
    for (int i = 1; i < argc; i++)
        if (emit(stdout, argv[i], i) != 0)
            return 1;
    printf("const struct embedded_file embedded_files[] = {\n");
    for (int i = 1; i < argc; i++)
        printf("    {\"%s\", (const char *)f%d, sizeof f%d - 1},\n", argv[i], i, i);
    printf("    {0, 0, 0}};\n");
    return 0;
}
