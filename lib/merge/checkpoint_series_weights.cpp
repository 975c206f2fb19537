#include "lib/merge/checkpoint_series_weights.h"

#include <cmath>
#include <numeric>

#include "lib/config/value_range.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

constexpr double kPi = 3.14159265358979323846;

[[noreturn]] void refuse(const std::string& text) {
  throw Error(std::string("expected ") + kSeriesWeightingSyntax + ", got '" + text + "'");
}

// The emulated schedule's multiplier at progress u in [0, 1].
double decay_multiplier(DecayShape shape, double u) {
  switch (shape) {
    case DecayShape::linear:
      return 1.0 - u;
    case DecayShape::cosine:
      return 0.5 * (1.0 + std::cos(kPi * u));
    case DecayShape::sqrt:
      return 1.0 - std::sqrt(u);
  }
  throw Error("checkpoint merge scheme: unknown decay shape");
}

std::string decay_name(DecayShape shape) {
  switch (shape) {
    case DecayShape::linear:
      return "linear";
    case DecayShape::cosine:
      return "cosine";
    case DecayShape::sqrt:
      return "sqrt";
  }
  throw Error("checkpoint merge scheme: unknown decay shape");
}

double ema_alpha_of(const std::string& text, const std::string& value) {
  std::size_t used = 0;
  double alpha = 0;
  try {
    alpha = std::stod(value, &used);
  } catch (const std::exception&) {
    refuse(text);
  }
  if (used != value.size() || !(alpha > 0.0 && alpha <= 1.0)) refuse(text);
  return alpha;
}

std::vector<double> normalised(std::vector<double> weights) {
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  for (double& weight : weights) weight /= total;
  return weights;
}

}  // namespace

SeriesWeighting parse_series_weighting(const std::string& text) {
  SeriesWeighting weighting;
  const std::size_t colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  const std::string argument = colon == std::string::npos ? "" : text.substr(colon + 1);
  const bool has_argument = colon != std::string::npos;
  if ((kind == "sma" || kind == "wma") && !has_argument) {
    weighting.scheme = kind == "sma" ? SeriesScheme::sma : SeriesScheme::wma;
  } else if (kind == "ema" && has_argument) {
    weighting.scheme = SeriesScheme::ema;
    weighting.alpha = ema_alpha_of(text, argument);
  } else if (kind == "wsm" && has_argument) {
    weighting.scheme = SeriesScheme::wsm;
    for (const DecayShape shape : {DecayShape::linear, DecayShape::cosine, DecayShape::sqrt}) {
      if (argument == decay_name(shape)) {
        weighting.decay = shape;
        return weighting;
      }
    }
    refuse(text);
  } else {
    refuse(text);
  }
  return weighting;
}

std::string series_weighting_name(const SeriesWeighting& weighting) {
  switch (weighting.scheme) {
    case SeriesScheme::sma:
      return "sma";
    case SeriesScheme::wma:
      return "wma";
    case SeriesScheme::ema:
      return "ema:" + config::number_text(weighting.alpha);
    case SeriesScheme::wsm:
      return "wsm:" + decay_name(weighting.decay);
  }
  throw Error("checkpoint merge scheme: unknown scheme");
}

std::vector<double> series_weights(const SeriesWeighting& weighting, std::size_t count) {
  if (count == 0) throw Error("checkpoint merge scheme " + series_weighting_name(weighting) + ": no checkpoints to weight");
  const double n = static_cast<double>(count);
  std::vector<double> weights(count);
  for (std::size_t index = 0; index < count; ++index) {
    const double i = static_cast<double>(index + 1);  // 1 = the oldest
    switch (weighting.scheme) {
      case SeriesScheme::sma:
        weights[index] = 1.0 / n;
        break;
      case SeriesScheme::ema:
        weights[index] = weighting.alpha * std::pow(1.0 - weighting.alpha, n - i);
        break;
      case SeriesScheme::wma:
        weights[index] = i;
        break;
      case SeriesScheme::wsm:
        // alpha_i - alpha_{i+1} with alpha_k = decay((k - 1)/N).
        weights[index] = decay_multiplier(weighting.decay, (i - 1) / n) - decay_multiplier(weighting.decay, i / n);
        break;
    }
  }
  return weighting.scheme == SeriesScheme::sma || weighting.scheme == SeriesScheme::wsm ? weights
                                                                                       : normalised(weights);
}

}  // namespace ladle::merge
