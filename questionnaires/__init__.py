"""HaiLong survey instruments as versioned data: schema, validation, loading and index compilation.

Pure Python (no Flask, no pandas), used by `survey` (storing versions, validating submissions) and by
`analysis` (through `Questionnaire.index_spec()`).
"""

from .answers import Problem, answer_problems
from .index_compile import compile_index
from .index_spec import IndexSpec, ItemSpec, Measure, RatioKey
from .loader import load_dict, load_file, load_shipped, shipped
from .model import (
    Element,
    Item,
    Level,
    Option,
    Questionnaire,
    Scale,
    Section,
    Text,
    checksum,
    text,
)
from .validate import Issue, QuestionnaireError, validate_dict, validate_file

__all__ = [
    "Element",
    "IndexSpec",
    "Issue",
    "Item",
    "ItemSpec",
    "Level",
    "Measure",
    "Option",
    "Problem",
    "Questionnaire",
    "QuestionnaireError",
    "RatioKey",
    "Scale",
    "Section",
    "Text",
    "answer_problems",
    "checksum",
    "compile_index",
    "load_dict",
    "load_file",
    "load_shipped",
    "shipped",
    "text",
    "validate_dict",
    "validate_file",
]
