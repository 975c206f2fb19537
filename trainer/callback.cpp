#include "trainer/callback.h"

#include "lib/util/error.h"

namespace ladle::trainer {

const char* callback_kind_name(CallbackKind kind) {
  return kind == CallbackKind::modifies_weights ? "modifies_weights" : "observes";
}

void Callback::save_state(CallbackState& /*state*/) const {}

void Callback::load_state(const CallbackState& state) {
  if (!state.tensors.empty() || !state.json.is_null()) {
    throw Error("callback '" + name() + "': the checkpoint holds state for it, but it does not load any");
  }
}

}  // namespace ladle::trainer
