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

// Wraps a factory of averaging_config.h as the registry's CallbackFactory.
trainer::CallbackFactory factory(std::shared_ptr<trainer::Callback> (*make)(const trainer::CallbackSpec&)) {
  return [make](const trainer::CallbackSpec& spec, const trainer::TrainConfig&) { return make(spec); };
}

// In this order: a config's `averaging:` sub-sections are made in registration order, and the soup gathers the
// averages the callbacks before it wrote at train end.
[[maybe_unused]] const bool registered = [] {
  trainer::register_callback_type("ema", "exponential moving average of the weights (OUTPUT_DIR/ema/)",
                                  factory(make_ema_callback));
  trainer::register_callback_type("swa", "stochastic weight averaging, optionally with SWALR (OUTPUT_DIR/swa/)",
                                  factory(make_swa_callback));
  trainer::register_callback_type("lawa", "latest weight averaging: mean of the k latest snapshots (OUTPUT_DIR/lawa/)",
                                  factory(make_lawa_callback));
  trainer::register_callback_type(
      "soup", "uniform or greedy soup of the final weights, checkpoints and averages at train end (OUTPUT_DIR/soup/)",
      factory(make_soup_callback));
  trainer::register_callback_type(
      "wise_ft", "WiSE-FT sweep between the starting and final weights at train end (OUTPUT_DIR/wise_ft/)",
      factory(make_wise_ft_callback));
  return true;
}();

}  // namespace
}  // namespace ladle::callbacks
