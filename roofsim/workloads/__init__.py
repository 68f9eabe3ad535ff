"""Workloads: models turned into kernel records (see roofsim.workloads.deepseek_ocr)."""
