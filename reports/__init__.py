"""Reports for people above the screen: the monthly leadership report (PDF, XLSX, HTML)."""
