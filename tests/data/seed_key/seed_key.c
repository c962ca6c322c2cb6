/* A seed-key library with the interface of an OEM seed-key DLL (Vector's KeyGenAlgoInterfaceEx.h),
   built by tests/test_seed_key_library.py with gcc. Its algorithm is the one the test computes in
   Python (expected_key): key[i] = (seed[n-1-i] ^ 0xC3 ^ level ^ option) + i, mod 256.

   -DONLY_LEVEL=0x01   refuse every other security level (KGRE_SecurityLevelInvalid)
   -DOVERSTATE_SIZE    report one byte more than the buffer holds (a broken library)
   -DNO_OPTIONS        export GenerateKeyEx only */

#include <string.h>

enum { KGRE_Ok = 0, KGRE_BufferToSmall = 1, KGRE_SecurityLevelInvalid = 2, KGRE_VariantInvalid = 3 };

static int make_key(const unsigned char *seed, unsigned int seed_size, unsigned int level, const char *variant,
                    unsigned char option, unsigned char *key, unsigned int max_key_size, unsigned int *key_size)
{
#ifdef ONLY_LEVEL
    if (level != ONLY_LEVEL)
        return KGRE_SecurityLevelInvalid;
#endif
    if (variant == 0 || (strcmp(variant, "") != 0 && strcmp(variant, "BMS_A") != 0))
        return KGRE_VariantInvalid;
    if (seed_size > max_key_size)
        return KGRE_BufferToSmall;
    for (unsigned int i = 0; i < seed_size; i++)
        key[i] = (unsigned char)((seed[seed_size - 1 - i] ^ 0xC3 ^ level ^ option) + i);
#ifdef OVERSTATE_SIZE
    *key_size = max_key_size + 1;
#else
    *key_size = seed_size;
#endif
    return KGRE_Ok;
}

int GenerateKeyEx(const unsigned char *seed, unsigned int seed_size, const unsigned int level,
                  const char *variant, unsigned char *key, unsigned int max_key_size, unsigned int *key_size)
{
    return make_key(seed, seed_size, level, variant, 0, key, max_key_size, key_size);
}

#ifndef NO_OPTIONS
int GenerateKeyExOpt(const unsigned char *seed, unsigned int seed_size, const unsigned int level,
                     const char *variant, const char *options, unsigned char *key, unsigned int max_key_size,
                     unsigned int *key_size)
{
    return make_key(seed, seed_size, level, variant, options && options[0] ? (unsigned char)options[0] : 0,
                    key, max_key_size, key_size);
}
#endif
