#include "trainer/event.h"

namespace ladle::trainer {

const char* event_name(Event event) {
  switch (event) {
    case Event::train_begin:
      return "train_begin";
    case Event::epoch_begin:
      return "epoch_begin";
    case Event::step_begin:
      return "step_begin";
    case Event::after_backward:
      return "after_backward";
    case Event::after_optimizer_step:
      return "after_optimizer_step";
    case Event::step_end:
      return "step_end";
    case Event::epoch_end:
      return "epoch_end";
    case Event::before_evaluation:
      return "before_evaluation";
    case Event::after_evaluation:
      return "after_evaluation";
    case Event::checkpoint_save:
      return "checkpoint_save";
    case Event::checkpoint_load:
      return "checkpoint_load";
    case Event::train_end:
      return "train_end";
  }
  return "unknown";
}

}  // namespace ladle::trainer
