"""The reader's network in torch, for training (qa/eval/reader_training.py) and for its one-time export to
ONNX, which is what answers questions (qa/answer/reader.py runs it with onnxruntime, so serving never
imports torch).

Export: the packaged e5 encoder with the trained top layers and head, written as ONNX (opset 17, batch and
length dynamic) and quantised to int8 weights (onnxruntime's dynamic quantisation, per channel): 118 MB
instead of 470, faster than torch, and short-answer F1 within .01 of float32's on xquad-vi-dev (the
README's tables). Done once per weights file, into the model cache beside the converted encoder.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

TUNED = 4  # top encoder layers the reader trains; the rest stay the packaged model's


def span_model(folder: Path) -> Any:
    """The e5 encoder of ``folder`` with a span head (a ``torch.nn.Module``; its ``forward(ids, mask,
    types)`` gives start and end logits of shape ``(batch, tokens)``)."""
    import torch
    from transformers import BertModel

    class SpanModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = BertModel.from_pretrained(str(folder), add_pooling_layer=False)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def lower(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
            """The hidden states under the tuned layers (frozen: cached by the training)."""
            hidden: torch.Tensor = self.encoder.embeddings(input_ids=ids, token_type_ids=types)
            for layer in self.encoder.encoder.layer[:-TUNED]:
                hidden = layer(hidden, attention_mask=_additive(mask))
            return hidden

        def upper(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            for layer in self.encoder.encoder.layer[-TUNED:]:
                hidden = layer(hidden, attention_mask=_additive(mask))
            logits = self.head(hidden)
            return logits[..., 0], logits[..., 1]

        def forward(
            self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            return self.upper(self.lower(ids, mask, types), mask)

        def tuned(self) -> dict[str, torch.Tensor]:
            """The trained parameters by name: the top layers and the head."""
            first = len(self.encoder.encoder.layer) - TUNED
            return {
                name: p
                for name, p in self.named_parameters()
                if name.startswith("head.")
                or any(name.startswith(f"encoder.encoder.layer.{i}.") for i in range(first, first + TUNED))
            }

    def _additive(mask: torch.Tensor) -> torch.Tensor:
        """The padding mask as the attention layers add it: 0 to attend, the float minimum not to."""
        additive: torch.Tensor = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        return additive

    return SpanModel()


def export_onnx(model_folder: Path, weights: Path, target: Path) -> None:
    """Write the reader (the encoder of ``model_folder`` with ``weights``) to ``target`` as int8 ONNX with
    inputs ``ids``, ``mask``, ``types`` and outputs ``start``, ``end``; atomically (a stopped export
    leaves no file)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from safetensors.torch import load_file
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # the unused pooler's report
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model = span_model(model_folder)
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    missing = set(model.tuned()) - set(state)
    if missing:
        raise ValueError(f"{weights} lacks {len(missing)} of the reader's parameters")
    model.load_state_dict(state, strict=False)
    model.eval()
    example = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".reader-") as tmp:
        plain, quantised = Path(tmp) / "plain.onnx", Path(tmp) / "int8.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(
                model,
                (example, example, torch.zeros_like(example)),
                str(plain),
                input_names=["ids", "mask", "types"],
                output_names=["start", "end"],
                dynamic_axes={name: axes for name in ("ids", "mask", "types", "start", "end")},
                opset_version=17,
                dynamo=False,
            )
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser's advice, on the root logger, to pre-process first
        try:
            quantize_dynamic(plain, quantised, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.setLevel(level)
        os.replace(quantised, target)
