#!/usr/bin/python3
"""Reference renderings for ladle's Jinja interpreter: python3-jinja2 with Hugging Face's chat-template settings.

The environment is the one transformers builds in chat_template_utils._compile_jinja_template:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[generation tag, loopcontrols]),
tojson overridden with json.dumps(ensure_ascii=False, ...), raise_exception and strftime_now as globals.

  jinja_reference.py templates CASES.json
      CASES.json: [{"template": str, "variables": {...}}, ...]
  jinja_reference.py chat TOKENIZER_CONFIG.json CONVERSATIONS.json
      CONVERSATIONS.json: [{"messages": [...], "add_generation_prompt": bool}, ...], rendered as
      apply_chat_template(tokenize=False) does: the tokenizer's special tokens map, then tools=None,
      documents=None, add_generation_prompt.

Prints a JSON list with, per case, {"output": str} or {"error": str}.
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(Extension):
    """{% generation %}...{% endgeneration %} renders its body (transformers' AssistantTracker, untracked)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, variables):
    try:
        return {"output": env.from_string(source).render(**variables)}
    except Exception as error:  # the C++ side only checks that it fails too
        return {"error": f"{type(error).__name__}: {error}"}


def special_tokens_map(config):
    """PreTrainedTokenizerBase.special_tokens_map: the named special tokens that are set, as strings."""
    def content(token):
        return token["content"] if isinstance(token, dict) else token

    names = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]
    tokens = {name: content(config[name]) for name in names if config.get(name) is not None}
    additional = config.get("additional_special_tokens")
    if additional:
        tokens["additional_special_tokens"] = [content(token) for token in additional]
    return tokens


def main():
    env = environment()
    if sys.argv[1] == "templates":
        with open(sys.argv[2], encoding="utf-8") as f:
            cases = json.load(f)
        results = [render(env, case["template"], case.get("variables", {})) for case in cases]
    else:
        with open(sys.argv[2], encoding="utf-8") as f:
            config = json.load(f)
        with open(sys.argv[3], encoding="utf-8") as f:
            conversations = json.load(f)
        results = []
        for conversation in conversations:
            variables = dict(special_tokens_map(config))
            variables.update(messages=conversation["messages"], tools=None, documents=None,
                             add_generation_prompt=conversation["add_generation_prompt"])
            results.append(render(env, config["chat_template"], variables))
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
