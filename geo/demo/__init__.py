"""The Xing County (兴县) demo: real county boundary, synthetic content marked ``synthetic``."""
