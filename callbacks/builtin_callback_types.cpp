// Registers the callback types of this library (trainer/callback_registry.h) when a program that links it starts,
// so that a config's `averaging:` and `callbacks:` can name them in every program: `ladle`, the tests, a user's
// program linking ladle::ladle, without any of them calling anything.
//
// ladle_callbacks is a static library, and a linker takes an archive member only when something refers to a symbol
// it defines: nothing refers to this file, so its registrar would be dropped. The ladle_callbacks target therefore
// adds "-Wl,--undefined=ladle_builtin_callback_types" to every link that uses it (CMakeLists.txt, carried by the
// installed package too), which makes the linker take this file, and with it the registrar.
#include "callbacks/averaging_config.h"
#include "trainer/callback_registry.h"

// The symbol the link option names (C linkage: one unmangled name).
extern "C" void ladle_builtin_callback_types() {}

namespace ladle::callbacks {
namespace {

// In the order of builtin_callback_types(): a config's `averaging:` sub-sections are made in registration order.
[[maybe_unused]] const bool registered = [] {
  for (const auto& type : builtin_callback_types()) {
    trainer::register_callback_type(
        type.name, type.description,
        [make = type.make](const trainer::CallbackSpec& spec, const trainer::TrainConfig&) { return make(spec); });
  }
  return true;
}();

}  // namespace
}  // namespace ladle::callbacks
