"""The Quantization tab: ``page`` lays it out, ``view`` turns the lab's rows into tables and charts."""
