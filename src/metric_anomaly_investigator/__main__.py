"""``python -m metric_anomaly_investigator`` is ``mai``."""

from metric_anomaly_investigator.cli import main

raise SystemExit(main())
