"""Developer tools: a real-browser driver for the capture page and its documentation screenshots."""
