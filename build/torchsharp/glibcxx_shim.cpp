// Stands in for std::ios_base_library_init() (GLIBCXX_3.4.32, GCC 13) on systems whose libstdc++
// is older, such as Debian 12's (GCC 12); patch-libtorchsharp.sh makes libLibTorchSharp.so load
// this library first.
//
// GCC 13's <iostream> no longer puts a static std::ios_base::Init object in every translation
// unit: it only references this symbol, which pins the binary to a libstdc++ that constructs the
// standard streams itself. An older libstdc++ does not, so the shim constructs an Init object when
// it is loaded (before libLibTorchSharp's own constructors run, since it is a dependency), and
// once more if the function is ever called. Init is reference counted: extra ones are harmless.
#include <ios>

namespace
{
    std::ios_base::Init streams_init;
}

namespace std
{
    __attribute__((visibility("default"))) void ios_base_library_init();

    void ios_base_library_init()
    {
        static ios_base::Init init;
    }
}
