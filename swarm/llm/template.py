"""Prompt rendering with the model's own chat template, and R1's reasoning/answer split.

Every model is trained on one exact prompt layout.  The layout comes from the Jinja
template embedded in the GGUF (as Hugging Face transformers would use it) or, for a
GGUF without one, from a declared model family (`FAMILIES`); with neither, rendering
a chat is a `PromptFormatError`, never a guess (another model's markers are plain text
to a model that does not know them).  Rendering reuses llama-cpp-python's
`Jinja2ChatFormatter` (sandboxed Jinja, transformers-compatible `tojson`,
`raise_exception`, `strftime_now`).
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Iterable, Literal, Mapping, NamedTuple, cast

from .errors import PromptFormatError
from .types import ChatMessage

if TYPE_CHECKING:
    from llama_cpp.llama_types import ChatCompletionRequestMessage

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# DeepSeek-R1-Distill-Qwen's template (tokenizer_config.json): the "deepseek-r1" family,
# for an R1 GGUF without a template of its own.  It ends the prompt with
# "<｜Assistant｜><think>\n".  Raw string: the "\n" escapes are Jinja's to interpret.
R1_CHAT_TEMPLATE = (
    r"{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    r"{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}"
    r"{%- for message in messages %}{%- if message['role'] == 'system' %}"
    r"{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
    r"{{bos_token}}{{ns.system_prompt}}"
    r"{%- for message in messages %}"
    r"{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}"
    r"{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}"
    r"{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}"
    r"{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}"
    r"{%- set ns.is_first = true -%}{%- else %}"
    r"{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}"
    r"{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}"
    r"{%- if message['role'] == 'assistant' and message['content'] is not none %}"
    r"{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}"
    r"{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    r"{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}"
    r"{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}"
    r"{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}"
    r"{%- else %}{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}"
    r"{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}"
    r"{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\n'}}{% endif %}"
)
R1_BOS = "<｜begin▁of▁sentence｜>"
R1_EOS = "<｜end▁of▁sentence｜>"


# The other families.  The formatter's Jinja runs with trim_blocks/lstrip_blocks, so every
# newline that belongs to the prompt is written as a '\n' string inside {{ }}.
CHATML_TEMPLATE = (  # Qwen 2 / 2.5 instruct (ChatML)
    r"{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    r"{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
GEMMA_TEMPLATE = (  # Gemma 2 / 3 instruct: roles user and model, no system role (folded into the user turn)
    r"{% for m in messages %}{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\n'"
    r" + (m['content'] | trim) + '<end_of_turn>\n' }}{% endfor %}"
    r"{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
BASE_TEMPLATE = (  # a base model: the turns as plain text, the model continues it (few-shot prompts)
    r"{% for m in messages %}{% if not loop.first %}{{ '\n\n' }}{% endif %}{{ m['content'] }}{% endfor %}"
)


class PromptFamily(NamedTuple):
    template: str
    reasoning: bool  # the model writes <think>...</think> before answering
    about: str


FAMILIES: dict[str, PromptFamily] = {
    "deepseek-r1": PromptFamily(R1_CHAT_TEMPLATE, True, "DeepSeek-R1 distills (<｜User｜>/<｜Assistant｜><think>)"),
    "qwen2": PromptFamily(CHATML_TEMPLATE, False, "Qwen 2/2.5 instruct, ChatML (<|im_start|>role)"),
    "gemma": PromptFamily(GEMMA_TEMPLATE, False, "Gemma 2/3 instruct (<start_of_turn>user/model)"),
    "base": PromptFamily(BASE_TEMPLATE, False, "a base model: plain text continuation (few-shot prompts)"),
}


def family_names() -> str:
    return ", ".join(FAMILIES)


def as_messages(messages: Iterable[ChatMessage | Mapping[str, str]]) -> list[ChatMessage]:
    return [m if isinstance(m, ChatMessage) else ChatMessage.model_validate(m) for m in messages]


def fold_system(messages: Iterable[ChatMessage | Mapping[str, str]]) -> list[ChatMessage]:
    """Move system text into the first user turn: DeepSeek advises against system prompts for R1."""
    msgs = as_messages(messages)
    system = "\n\n".join(m.content for m in msgs if m.role == "system")
    rest = [m for m in msgs if m.role != "system"]
    if not system:
        return rest
    for i, m in enumerate(rest):
        if m.role == "user":
            rest[i] = ChatMessage(role="user", content=f"{system}\n\n{m.content}")
            return rest
    return [ChatMessage(role="user", content=system), *rest]


class ChatTemplate:
    """Renders messages to the exact prompt string the model was trained on.

    `ChatTemplate(jinja)` wraps a GGUF's template; `ChatTemplate.select` picks the one a
    model needs (declared family first, then the GGUF's) or says why there is none.
    `ChatTemplate(None)` is a model without a known format: `render` raises
    `PromptFormatError` (`missing` says why), raw prompts still work.
    """

    def __init__(self, template: str | None, bos_token: str = R1_BOS, eos_token: str = R1_EOS, *,
                 family: str | None = None, reasoning: bool | None = None, missing: str | None = None):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.source: Literal["gguf", "family", "none"] = "none" if not template else "family" if family else "gguf"
        self.family = family
        self.template = template
        self.missing = missing or ("This model has no chat template and no family was declared, so its prompt "
                                   f"format is unknown; declare one of: {family_names()}.")
        # a template that knows </think> (R1, QwQ, Qwen 3...) makes the model reason first
        self.reasoning = reasoning if reasoning is not None else bool(template) and THINK_CLOSE in (template or "")
        self._formatter = None if not template else Jinja2ChatFormatter(
            template=template, bos_token=bos_token, eos_token=eos_token, add_generation_prompt=True
        )

    @classmethod
    def select(cls, *, gguf_template: str | None, family: str | None, model: str,
               bos_token: str = R1_BOS, eos_token: str = R1_EOS) -> "ChatTemplate":
        """The declared `family` if any (it wins: e.g. "base" for few-shot on an instruct model),
        else the GGUF's template, else a template whose `render` raises; an unknown family is a
        `PromptFormatError` (one line) at once."""
        if family:
            known = FAMILIES.get(family.strip().lower())
            if known is None:
                raise PromptFormatError(f"Unknown model family {family!r} for {model}; "
                                        f"use one of: {family_names()}.")
            return cls(known.template, bos_token, eos_token, family=family.strip().lower(), reasoning=known.reasoning)
        if gguf_template:
            return cls(gguf_template, bos_token, eos_token)
        return cls(None, missing=(
            f"{model} has no chat template (tokenizer.chat_template) and no family was declared, so its prompt "
            f"format is unknown; set BackendConfig(family=...) or SWARM_MODEL_FAMILY to one of: {family_names()} "
            "(or send a rendered prompt with complete_prompt)."))

    def render(self, messages: Iterable[ChatMessage | Mapping[str, str]]) -> str:
        """System messages folded into the first user turn, generation prompt appended."""
        # {"role", "content"} dicts are llama_cpp's request messages, but pyright cannot match a plain dict
        # to its union of role-specific TypedDicts
        if self._formatter is None:
            raise PromptFormatError(self.missing)
        msgs = cast("list[ChatCompletionRequestMessage]", [m.model_dump() for m in fold_system(messages)])
        return self._formatter(messages=msgs).prompt


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ReasoningSplit(NamedTuple):
    reasoning: str
    answer: str
    truncated: bool


def split_reasoning(text: str) -> ReasoningSplit:
    """Split an R1 completion `[<think>]reasoning</think>answer`.

    The template already opened `<think>`, but some templates don't, so a leading
    `<think>` is stripped.  Only the first `</think>` splits: later ones belong to the
    answer.  No `</think>` at all means the reasoning was cut off (budget or end of
    turn): everything is reasoning, the answer is empty, `truncated` is set.
    """
    body = text.lstrip()
    if body.startswith(THINK_OPEN):
        body = body[len(THINK_OPEN):]
    reasoning, sep, answer = body.partition(THINK_CLOSE)
    if not sep:
        return ReasoningSplit(reasoning.strip(), "", True)
    return ReasoningSplit(reasoning.strip(), answer.strip(), False)
