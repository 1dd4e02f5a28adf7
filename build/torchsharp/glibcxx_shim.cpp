// Provides std::ios_base_library_init() (GLIBCXX_3.4.32, GCC 13) for systems whose libstdc++ is
// older, such as Debian 12's (GCC 12). GCC 13 emits a call to it from every translation unit
// that includes <iostream> instead of a static std::ios_base::Init object; its only job is to
// make sure the standard streams are constructed, which one function-local Init does.
#include <ios>

namespace std
{
    __attribute__((visibility("default"))) void ios_base_library_init();

    void ios_base_library_init()
    {
        static ios_base::Init init;
    }
}
