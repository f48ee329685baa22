"""Feature extraction from named layers in one pass over the data.

Layers are named as ``torchvision.models.feature_extraction.get_graph_node_names`` names
them (torch.fx node names such as ``"layer3"``, ``"flatten"`` or ``"layer1.0.add"``).
Plain module names (``model.named_modules()``) work too, and are captured with forward
hooks, which also works for models that torch.fx cannot trace. Only graph nodes that are
not modules need tracing. A module name followed by ``":input"`` (``"fc:input"``) captures
that module's input: the penultimate features are ``"<head>:input"``.

Features are flattened to ``[N, D]`` and written into preallocated CPU tensors; no other
activations are kept. Transformer token outputs ``[N, T, D]`` are reduced first, as
``tokens=`` says per layer (see :mod:`geowidget.engine.tokens`). The model runs in eval mode under ``torch.no_grad()``; its per-module
train/eval flags and its hooks are restored afterwards, even after an exception.
"""

from __future__ import annotations

import difflib
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from geowidget._validation import (
    DATA,
    DEVICE,
    MODEL,
    POSITIVE_INT,
    Boolean,
    Instance,
    InvalidParameterError,
    ListOf,
    invalid,
    validate_params,
)
from geowidget.engine.batches import count_samples, iter_batches, resolve_device
from geowidget.engine.model_state import evaluating
from geowidget.engine.tokens import (
    TOKEN_MODES,
    TOKENS,
    TokenLayout,
    check_tokens,
    reduce_tokens,
    token_layout,
)

__all__ = [
    "Features", "InputDtypeError", "capture", "check_input_dtype", "dtype_named",
    "extract_features", "forward_order", "get_layer_names", "logits_of", "sort_by_depth",
]


@validate_params({"model": MODEL, "blocks": [Boolean()]})
def get_layer_names(model: nn.Module, *, blocks: bool = False) -> list[str]:
    """Every valid layer name: module names, then graph node names if the model traces.

    With ``blocks=True``, only the model's repeated blocks, in order: the children of an
    ``nn.Sequential`` or ``nn.ModuleList`` whose type (a module with submodules) occurs at
    least twice there, outermost only. These are a transformer's encoder blocks
    (torchvision ``encoder.layers.encoder_layer_0``, timm ``blocks.0``) and a ResNet's
    residual blocks (``layer1.0``): the natural layers for geometry through depth.

    Examples
    --------
    >>> import torchvision
    >>> "layer3" in get_layer_names(torchvision.models.resnet18())
    True
    >>> get_layer_names(torchvision.models.resnet18(), blocks=True)[:3]
    ['layer1.0', 'layer1.1', 'layer2.0']
    """
    if blocks:
        return _block_names(model)
    names = [n for n, _ in model.named_modules() if n]
    return names + [n for n in _graph_node_names(model) if n not in set(names)]


def _block_names(model: nn.Module) -> list[str]:
    found: list[str] = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Sequential | nn.ModuleList):
            continue
        if any(name == b or name.startswith(f"{b}.") for b in found):
            continue  # inside a block already listed
        children = list(module.named_children())
        types = [type(c) for _, c in children]
        for child, sub in children:
            if types.count(type(sub)) > 1 and next(sub.children(), None) is not None:
                found.append(f"{name}.{child}" if name else child)
    return found


# Tracing costs far more than a small forward pass, so its results are kept per model (weakly,
# so a model can still be freed) and keyed by its modules: replacing one invalidates the entry.
_trace_cache: weakref.WeakKeyDictionary[nn.Module, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _cached(model: nn.Module, key: Any, make: Any) -> Any:
    layout = tuple((n, id(m)) for n, m in model.named_modules())
    entries = _trace_cache.setdefault(model, {})
    if (layout, key) not in entries:
        value = make()
        if value is None:  # nothing known yet: ask again next time
            return None
        entries[(layout, key)] = value
    return entries[(layout, key)]


def _graph_node_names(model: nn.Module) -> list[str]:
    return list(_cached(model, "names", lambda: _trace_node_names(model)))


def _trace_node_names(model: nn.Module) -> list[str]:
    from torchvision.models.feature_extraction import get_graph_node_names

    try:
        with evaluating(model):  # tracing flips train/eval on every submodule
            _, eval_nodes = get_graph_node_names(model)
    except Exception:  # noqa: BLE001 -- any tracing failure means "no graph names"
        return []
    return [n for n in eval_nodes if n not in ("x", "input")]


def _module_calls(model: nn.Module) -> dict[str, int]:
    """``{module name: place in the graph's nodes}`` of the modules the forward pass calls
    (:func:`forward_order`'s places), or ``{}`` when the model does not trace."""

    def make() -> dict[str, int]:
        nodes = _graph_node_names(model)
        if not nodes:
            return {}
        try:
            with evaluating(model):
                graph = torch.fx.Tracer().trace(model)
        except Exception:  # noqa: BLE001 -- any tracing failure means "no module places"
            return {}
        inner = [n for n in graph.nodes if n.op not in ("placeholder", "output")]
        if len(inner) != len(nodes):  # not the same graph: its places would not line up
            return {}
        return {str(n.target): i for i, n in enumerate(inner) if n.op == "call_module"}

    return dict(_cached(model, "calls", make))


def _unknown_layer_error(
    model: nn.Module, layer: Any, valid: Sequence[str], caller: str = "extract_features",
    param: str = "layers",
) -> ValueError:
    close = difflib.get_close_matches(str(layer), valid, n=5, cutoff=0.4)
    hint = f"closest valid names: {close}; " if close else ""
    shown = list(valid)[:40]
    more = f" (and {len(valid) - 40} more)" if len(valid) > 40 else ""
    return invalid(
        caller, param, f"a layer name of this {type(model).__name__}", layer,
        f"{hint}valid names: {shown}{more}; see geowidget.get_layer_names(model)",
    )


class _Capture:
    """Writes one layer's flattened output (or input) into a preallocated buffer.

    ``tokens`` reduces a token output ``[N, T, D]``; ``per_layer`` says it was set for this
    layer by name, so a layer without tokens is an error rather than a no-op.
    """

    def __init__(
        self,
        name: str,
        n: int | None,
        dtype: torch.dtype | None,
        tokens: str | None = None,
        per_layer: bool = False,
        layout: TokenLayout | None = None,
    ) -> None:
        self.name, self.n, self.dtype = name, n, dtype
        self.tokens, self.per_layer, self.layout = tokens, per_layer, layout
        self.has_tokens = False
        self.out: torch.Tensor | None = None
        self.parts: list[torch.Tensor] = []  # only when the sample count is unknown
        self.calls = 0
        self.warned = False

    def take(self, value: Any, start: int, size: int | None = None) -> None:
        if isinstance(value, tuple | list):
            value = value[0]
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"layer {self.name!r} produced {type(value).__name__}, not a Tensor")
        if size is not None and (value.ndim == 0 or len(value) != size):
            raise ValueError(
                f"layer {self.name!r} output has shape {tuple(value.shape)}, whose first axis is "
                f"not the batch of {size} samples (a sequence-first transformer layer?); "
                "capture a layer whose output is batch-first"
            )
        self.calls += 1
        flat = self._per_sample(value.detach())
        if self.dtype is not None:
            flat = flat.to(self.dtype)
        if self.n is None:
            # copy now: a later in-place op (ReLU(inplace=True)) would overwrite it
            self.parts.append(flat.to("cpu", copy=True))
            return
        if self.out is None:
            self.out = torch.empty((self.n, flat.shape[1]), dtype=flat.dtype)
        elif flat.shape[1] != self.out.shape[1]:
            raise ValueError(
                f"layer {self.name!r} changed width from {self.out.shape[1]} to {flat.shape[1]} "
                "between batches; inputs must share one shape"
            )
        self.out[start : start + len(flat)].copy_(flat)

    def _per_sample(self, value: torch.Tensor) -> torch.Tensor:
        """``[N, D]``: token outputs reduced as ``tokens`` says, anything else flattened."""
        if value.ndim == 3:
            self.has_tokens = True
            if self.tokens is None:
                raise ValueError(
                    f"layer {self.name!r} outputs tokens of shape {tuple(value.shape)} "
                    "([N, T, D]); say how to reduce them to one vector per sample with "
                    f"tokens= one of {list(TOKEN_MODES)}, for this layer alone: "
                    f"tokens={{{self.name!r}: 'cls'}}"
                )
            assert self.layout is not None
            return reduce_tokens(value, self.tokens, self.layout)
        if self.per_layer:
            raise ValueError(
                f"tokens[{self.name!r}]={self.tokens!r} was given, but layer {self.name!r} "
                f"outputs shape {tuple(value.shape)}, not tokens [N, T, D]; leave it out of "
                "tokens="
            )
        return value.reshape(len(value), -1)

    def end_batch(self) -> None:
        if self.calls == 0:
            raise RuntimeError(
                f"layer {self.name!r} did not run in the forward pass, so it has no features"
            )
        if self.calls > 1 and not self.warned:
            warnings.warn(
                f"module {self.name!r} ran {self.calls} times in one forward pass; its features "
                "are from the last call. Use the torch.fx node names (see get_layer_names) to "
                "pick one call.",
                RuntimeWarning,
                stacklevel=4,
            )
            self.warned = True
        self.calls = 0

    def result(self) -> torch.Tensor:
        if self.n is None:
            return torch.cat(self.parts)
        assert self.out is not None
        return self.out


def logits_of(
    output: Any, caller: str = "extract_features", name: str = "model", which: str = ""
) -> torch.Tensor:
    """The logits in a model's output: the tensor itself, a ``"logits"`` key or attribute,
    or the first item of a tuple; anything else is an error naming the model parameter."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and "logits" in output:
        return output["logits"]
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    got = (f"a dict with keys {sorted(map(str, output))}" if isinstance(output, Mapping)
           else f"a {type(output).__name__}")
    raise invalid(caller, name, "a classifier whose output is a logits tensor [N, C] (or a "
                  "tuple starting with one, or a dict or object with 'logits')", output,
                  f"{which}its forward returns {got}; wrap it to return the logits")


class InputDtypeError(InvalidParameterError):
    """Floating inputs of another dtype than the model's floating parameters."""


def check_input_dtype(model: nn.Module, x: torch.Tensor, caller: str, name: str) -> None:
    """Raise :class:`InputDtypeError`, naming parameter ``name`` of ``caller``, when ``x`` is
    floating and of another dtype than the model's floating parameters."""
    p = next((p for p in model.parameters() if p.is_floating_point()), None)
    if p is None or not x.is_floating_point() or x.dtype == p.dtype:
        return
    raise InputDtypeError(str(invalid(
        caller, name, f"inputs of the model's dtype {p.dtype}", x,
        f"its dtype is {x.dtype} but the model's parameters are {p.dtype}; convert one: "
        f"x.to({p.dtype}) or model.to({x.dtype})")))


@contextmanager
def dtype_named(model: nn.Module, x: torch.Tensor, caller: str, name: str) -> Iterator[None]:
    """When the forward pass inside fails, name a dtype mismatch of ``x`` and the model
    (torch's matmul error names neither). Only on failure: a model may cast its inputs."""
    try:
        yield
    except RuntimeError:
        check_input_dtype(model, x, caller, name)
        raise


def capture(
    model: nn.Module,
    data: Any,
    targets: Sequence[tuple[str, str]],
    *,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    progress: bool = True,
    dtype: torch.dtype | None = None,
    desc: str = "features",
    tokens: str | None = None,
    target_tokens: Mapping[tuple[str, str], str] | None = None,
    stop_early: bool = False,
) -> tuple[dict[tuple[str, str], torch.Tensor], torch.Tensor | None, torch.Tensor | None]:
    """Capture ``(layer, "output" | "input")`` targets, labels and logits in one pass.

    The engine's shared forward loop; :func:`extract_features` is its public face.
    ``tokens`` reduces every token output, ``target_tokens`` the outputs of named targets.
    ``stop_early`` ends each batch's forward pass once every target is captured (the logits
    are then None): the first batch the model runs for these targets runs whole to count how
    often each target runs (the count is kept with the model), and later batches stop at that
    count, so a module that runs twice still gives its last call. Only hooked targets stop
    the pass; with a graph node among them every batch runs whole.
    """
    from geowidget.engine.progress import progress as progress_bar

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    dev = resolve_device(device)
    modules = dict(model.named_modules())
    n = count_samples(data)
    if n == 0:
        raise ValueError("data is empty: it has 0 samples")
    # Hooks are cheapest and work on untraceable models, so they are used unless a target is
    # a graph node with no module. Tracing inlines non-leaf modules (their hooks never fire),
    # so once tracing is needed every output target goes through the graph.
    needs_graph = any(name not in modules for name, kind in targets if kind == "output")
    graph_only = [name for name, kind in targets if kind == "output"] if needs_graph else []

    target_tokens = dict(target_tokens or {})
    layout = token_layout(model) if tokens is not None or target_tokens else None
    caps = {
        key: _Capture(key[0] if key[1] == "output" else f"{key[0]}:input", n, dtype,
                      target_tokens.get(key, tokens), key in target_tokens, layout)
        for key in targets
    }
    labels: list[torch.Tensor] = []
    logits_cap = _Capture("<logits>", n, dtype)
    handles = []
    model_device = next((p.device for p in model.parameters()), None)
    try:
        with evaluating(model), torch.no_grad():
            if model_device is not None and model_device != dev:
                raise invalid(
                    "extract_features", "device", f"the model's device {str(model_device)!r}",
                    device, f"move the model with model.to({str(dev)!r}) or pass "
                    f"device={str(model_device)!r}",
                )
            # tracing toggles train/eval on shared submodules, so it happens inside the guard
            traced, output_key = _traced(model, graph_only) if graph_only else (None, "")
            start, size = 0, 0
            # calls per target in a whole pass: learned from the first whole batch, and kept
            # with the model, so later passes of the same targets stop from their first batch
            whole_key = ("calls", tuple(caps))
            whole = _cached(model, whole_key, lambda: None) if stop_early else None

            def captured() -> None:  # every target taken as often as in a whole pass: stop
                if whole is not None and all(c.calls >= whole[k] for k, c in caps.items()):
                    raise _Captured

            stop = captured if stop_early and traced is None else None
            for (name, kind), cap in caps.items():
                if kind == "input" or name not in graph_only:
                    handles.append(_hook(modules[name], kind, cap, lambda: (start, size), stop))
            total = None if n is None else -(-n // batch_size)
            batches = iter_batches(data, batch_size, dev)
            for xb, yb in progress_bar(batches, total=total, desc=desc, disable=not progress):
                size = len(xb)
                with dtype_named(model, xb, "extract_features", "data"):
                    try:
                        out = traced(xb) if traced is not None else model(xb)
                    except _Captured:  # stop_early: every target taken, the rest not run
                        out = None
                if traced is not None:
                    for name in graph_only:
                        caps[(name, "output")].take(out[name], start, size)
                    output = out[output_key]
                else:
                    output = out
                if not stop_early:
                    logits_cap.take(logits_of(output), start, size)
                if whole is None:
                    whole = {key: cap.calls for key, cap in caps.items()}
                    if stop_early:
                        _cached(model, whole_key, lambda w=whole: w)
                for cap in caps.values():
                    cap.end_batch()
                if start == 0 and tokens is not None and not any(
                    c.has_tokens for c in caps.values()
                ):
                    raise ValueError(
                        f"tokens={tokens!r} was given, but none of the layers "
                        f"{[c.name for c in caps.values()]} outputs tokens [N, T, D]; drop tokens="
                    )
                if yb is not None:
                    labels.append(yb.detach().to("cpu"))
                start += len(xb)
    finally:
        for h in handles:
            h.remove()
    label_t = torch.cat(labels) if labels else None
    if label_t is not None and len(label_t) != start:
        raise ValueError(f"only some batches carried labels ({len(label_t)} of {start} samples)")
    logits = None if stop_early else logits_cap.result()
    return {key: cap.result() for key, cap in caps.items()}, label_t, logits


class _Captured(Exception):  # noqa: N818 -- a signal, not an error
    """Raised by a hook to end a forward pass whose targets are all captured."""


def _hook(module: nn.Module, kind: str, cap: _Capture, position: Any, after: Any = None) -> Any:
    """A hook writing into ``cap`` at ``position() = (start, batch size)``, then calling
    ``after()`` (which may end the forward pass)."""
    def take(value: Any) -> None:
        cap.take(value, *position())
        if after is not None:
            after()

    if kind == "output":
        return module.register_forward_hook(lambda _m, _i, out: take(out))
    if kind == "input":
        return module.register_forward_pre_hook(lambda _m, inp: take(inp))
    raise ValueError(f"capture kind must be 'output' or 'input', got {kind!r}")


def _traced(model: nn.Module, nodes: list[str]) -> tuple[nn.Module, str]:
    return _cached(model, ("graph", tuple(nodes)), lambda: _trace_graph(model, nodes))


def _trace_graph(model: nn.Module, nodes: list[str]) -> tuple[nn.Module, str]:
    """A graph module returning the requested nodes (cloned) plus the model's output, and
    the key under which it returns the output."""
    from torchvision.models.feature_extraction import create_feature_extractor

    graph_nodes = _graph_node_names(model)  # names were validated by extract_features
    return_nodes = {graph_nodes[-1]: "__output__"}
    return_nodes.update({name: name for name in nodes})
    gm = create_feature_extractor(model, return_nodes=return_nodes)
    graph = gm.graph
    output = next(node for node in graph.nodes if node.op == "output")
    returned = dict(output.args[0])
    # Clone each returned node right where it is computed: a later in-place op would change it.
    for key, node in returned.items():
        with graph.inserting_after(node):
            returned[key] = graph.call_method("clone", (node,))
    output.args = (returned,)
    graph.lint()
    gm.recompile()
    return gm.eval(), return_nodes[graph_nodes[-1]]


@validate_params({
    "model": MODEL,
    "data": DATA,
    "layers": [str, ListOf(str)],
    "batch_size": POSITIVE_INT,
    "device": DEVICE,
    "progress": [Boolean()],
    "return_outputs": [None, Boolean()],
    "dtype": [None, Instance("torch.dtype")],
    "tokens": TOKENS,
    "stop_early": [Boolean()],
})
def extract_features(
    model: nn.Module,
    data: Any,
    layers: str | Sequence[str],
    *,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    progress: bool = True,
    return_outputs: bool | None = None,
    dtype: torch.dtype | None = None,
    tokens: str | Mapping[str, str] | None = None,
    stop_early: bool = False,
) -> Features:
    """Features of named layers for every sample, in one pass over ``data``.

    Parameters
    ----------
    model : nn.Module
        Any classifier. It is not changed: its train/eval flags and hooks are restored.
    data : Tensor, (inputs, labels), Dataset or DataLoader
        See :mod:`geowidget.engine.batches`. Order is kept.
    layers : str or list of str
        Graph node names as in ``get_graph_node_names`` or module names; see
        :func:`get_layer_names`. Unknown names raise ``ValueError`` listing the closest.
    batch_size, device, progress
        Batching, ``"auto" | "cpu" | "cuda"``, and a tqdm progress bar.
    return_outputs : bool, optional
        Deprecated: the result always carries the labels and logits of the same pass
        (``.labels``, ``.logits``). ``return_outputs=True`` still returns the old tuple
        ``(features, labels, logits)`` for this release, with a ``DeprecationWarning``.
    dtype : torch.dtype, optional
        Cast features to this dtype (for example ``torch.float64``).
    tokens : {"cls", "mean", "flatten"} or dict of str to str, optional
        How a transformer layer's token output ``[N, T, D]`` becomes ``[N, D]``: the class
        token, the mean of the patch tokens, or all tokens flattened (see
        :mod:`geowidget.engine.tokens`). A string applies to every layer with a token output;
        a dict sets it per layer (``{"encoder.layers.encoder_layer_3": "cls"}``). A 3-D output
        without a choice, or a dict entry for a layer without tokens, raises ``ValueError``.
    stop_early : bool
        End each batch's forward pass once the layers are captured, skipping the layers
        after them (the logits are then not computed: ``.logits`` is None). The model's first batch for these layers runs whole, to count how often each
        runs, so a module that runs twice in a forward pass still gives its last call (a
        model whose control flow changes that count between inputs needs the whole pass).
        Layers that need tracing (graph nodes that are not modules) always run the whole pass.

    Returns
    -------
    Features
        A dict of the flattened features ``{name: Tensor [N, D]}`` on the CPU, keyed by the
        requested names, with ``.labels`` (``[N]``, None when the data has none) and
        ``.logits`` (``[N, C]``, None with ``stop_early``) of the same pass.

    Examples
    --------
    >>> import torch, torchvision
    >>> model = torchvision.models.resnet18(num_classes=10)
    >>> feats = extract_features(model, torch.randn(4, 3, 64, 64), ["layer3", "avgpool"],
    ...                          progress=False)
    >>> feats["avgpool"].shape, feats.logits.shape
    (torch.Size([4, 512]), torch.Size([4, 10]))
    """
    names = [layers] if isinstance(layers, str) else layers
    default_tokens, layer_tokens = check_tokens(tokens, names)
    targets = [_target(model, name) for name in dict.fromkeys(names)]
    target_tokens = {_target(model, name): mode for name, mode in layer_tokens.items()}
    feats, labels, logits = capture(
        model, data, targets, batch_size=batch_size, device=device, progress=progress,
        dtype=dtype, tokens=default_tokens, target_tokens=target_tokens, stop_early=stop_early,
    )
    feats = Features({name: feats[target]
                      for name, target in zip(dict.fromkeys(names), targets, strict=True)},
                     labels=labels, logits=logits)
    if return_outputs is not None:
        warnings.warn(
            "extract_features(return_outputs=...) is deprecated: the result always carries "
            "the outputs; use out = extract_features(...) and out.labels, out.logits"
            + (" (return_outputs=True still returns the tuple (features, labels, logits) "
               "for this release)" if return_outputs else ""),
            DeprecationWarning, stacklevel=3,
        )
        if return_outputs:
            return feats, labels, logits
    return feats


class Features(dict):
    """What :func:`extract_features` returns: ``{layer name: Tensor [N, D]}``, a dict, with
    the outputs of the same forward pass as attributes.

    Attributes
    ----------
    labels : Tensor [N] or None
        The data's labels, None when it has none.
    logits : Tensor [N, C] or None
        The model's outputs, None when the pass stopped early (``stop_early=True``).

    Examples
    --------
    >>> import torch
    >>> f = Features({"fc": torch.zeros(2, 3)}, labels=torch.tensor([0, 1]))
    >>> f["fc"].shape, f.labels.tolist(), f.logits
    (torch.Size([2, 3]), [0, 1], None)
    """

    def __init__(self, features: Mapping[str, torch.Tensor], *,
                 labels: torch.Tensor | None = None, logits: torch.Tensor | None = None) -> None:
        super().__init__(features)
        self.labels = labels
        self.logits = logits


def _target(
    model: nn.Module, name: str, caller: str = "extract_features", param: str = "layers"
) -> tuple[str, str]:
    """``(module_or_node, "output" | "input")`` for a layer name; unknown names raise, naming
    ``param`` of ``caller``."""
    modules = dict(model.named_modules())
    base, _, kind = name.partition(":")
    if kind:
        if kind != "input" or base not in modules:
            valid = [f"{n}:input" for n in modules if n]
            raise _unknown_layer_error(model, name, valid, caller, param)
        return base, "input"
    if name not in modules and name not in get_layer_names(model):
        raise _unknown_layer_error(model, name, get_layer_names(model), caller, param)
    return name, "output"


def forward_order(model: nn.Module) -> list[str]:
    """Names in the order the model's forward pass reaches them: its graph's nodes when it
    traces (``torch.fx``), else its modules in definition order (``named_modules``), which
    is the forward order of the usual ``nn.Sequential``-style models.

    A layer's depth is the place of its first node (a block's first node is inside it:
    ``layer1.0`` is reached at ``layer1.0.conv1``); see :func:`sort_by_depth`.
    """
    return _graph_node_names(model) or [n for n, _ in model.named_modules() if n]


def sort_by_depth(model: nn.Module, layers: Sequence[str], last: Sequence[str] = (),
                  at: Mapping[str, str] | None = None) -> list[str]:
    """``layers`` from the input to the output of ``model``, by :func:`forward_order`.

    ``"<module>:input"`` comes just before the module; a name in ``at`` takes the depth of
    the layer it maps to (``{"penultimate": "fc:input"}``: the head's input, before the
    logits); names in ``last`` come last; names the order does not know keep their given
    order after the known ones.
    """
    order = forward_order(model)
    first: dict[str, int] = {}
    # a module by its own name first: the graph's names drop a trailing "_<digits>"
    # ("relu_2" reads "relu_1"), and a name that is a module means that module
    for name, i in sorted(_module_calls(model).items(), key=lambda kv: kv[1]):
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            first.setdefault(".".join(parts[:k]), i)
    for i, node in enumerate(order):
        parts = node.split(".")
        for k in range(1, len(parts) + 1):
            first.setdefault(".".join(parts[:k]), i)
    at = dict(at or {})

    def depth(layer: str) -> tuple[int, float]:
        if layer in last:
            return (2, float(list(last).index(layer)))
        layer = at.get(layer, layer)
        base, shift = (layer[:-len(":input")], -0.5) if layer.endswith(":input") else (layer, 0.0)
        return (0, first[base] + shift) if base in first else (1, 0.0)

    return sorted(layers, key=depth)
