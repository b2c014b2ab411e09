/*
 * replay.c - run the fuzz target over files without libFuzzer.
 *
 *     replay FILE...
 *
 * Builds with any compiler (gcc included), so the seed corpus and every
 * crash reproducer can be replayed where clang's fuzzer runtime is
 * missing.  Exits 0 when every input passed; a failing input aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The file's bytes in a malloc'd buffer, or NULL. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (f == NULL)
		return NULL;
	for (;;) {
		if (*len == cap) {
			cap = cap ? 2 * cap : 4096;
			uint8_t *bigger = realloc(buf, cap);
			if (bigger == NULL)
				break;
			buf = bigger;
		}
		size_t n = fread(buf + *len, 1, cap - *len, f);
		if (n == 0)
			break;
		*len += n;
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		size_t len;
		uint8_t *data = slurp(argv[i], &len);
		if (data == NULL) {
			fprintf(stderr, "replay: cannot read %s\n", argv[i]);
			bad = 1;
			continue;
		}
		LLVMFuzzerTestOneInput(data, len);
		free(data);
	}
	printf("replay: %d input%s passed\n", argc - 1 - bad,
	       argc - 1 - bad == 1 ? "" : "s");
	return bad;
}
