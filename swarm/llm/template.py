"""Prompt rendering with the model's own chat template, and R1's reasoning/answer split.

R1 distills are trained on one exact prompt layout; rendering it with the Jinja
template embedded in the GGUF (as Hugging Face transformers would) keeps us on that
layout.  Rendering reuses llama-cpp-python's `Jinja2ChatFormatter` (sandboxed Jinja,
transformers-compatible `tojson`, `raise_exception`, `strftime_now`).
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Iterable, Literal, Mapping, NamedTuple, cast

from .types import ChatMessage

if TYPE_CHECKING:
    from llama_cpp.llama_types import ChatCompletionRequestMessage

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# DeepSeek-R1-Distill-Qwen's template (tokenizer_config.json).  Used when a GGUF has no
# template of its own.  It ends the prompt with "<｜Assistant｜><think>\n".  Raw string:
# the "\n" escapes are Jinja's to interpret.
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
    """Renders messages to the exact prompt string the model was trained on."""

    def __init__(self, template: str | None, bos_token: str = R1_BOS, eos_token: str = R1_EOS):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.source: Literal["gguf", "builtin"] = "gguf" if template else "builtin"
        self.template = template or R1_CHAT_TEMPLATE
        self._formatter = Jinja2ChatFormatter(
            template=self.template, bos_token=bos_token, eos_token=eos_token, add_generation_prompt=True
        )

    def render(self, messages: Iterable[ChatMessage | Mapping[str, str]]) -> str:
        """System messages folded into the first user turn, generation prompt appended."""
        # {"role", "content"} dicts are llama_cpp's request messages, but pyright cannot match a plain dict
        # to its union of role-specific TypedDicts
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
