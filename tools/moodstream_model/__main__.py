"""``python -m moodstream_model --out DIR``: build (or reuse) the analyzer's model."""

from moodstream_model.build import main

raise SystemExit(main())
