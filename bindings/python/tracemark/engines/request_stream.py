"""One request's watermarking state as an engine adapter follows it: the host Processor and how many
of the request's generated tokens it has accepted (engines hand over the growing token list, not
the newest token)."""
from .. import Processor


class RequestStream:
    """Not thread-safe; one per request."""

    def __init__(self, key, prompt_token_ids=None, allow_padded_logits=True):
        # No prompt (an engine that does not pass it): the first context_width tokens are unbiased,
        # which detection skips anyway.
        self._prompt = list(prompt_token_ids or ())
        self.processor = Processor(key, prompt=self._prompt, allow_padded_logits=allow_padded_logits)
        self.accepted = 0

    def catch_up(self, output_token_ids):
        """Accepts the tokens of output_token_ids (the request's generated ids so far, a list) that
        this stream has not seen yet."""
        count = len(output_token_ids)
        if count < self.accepted:  # the engine dropped tokens (rolled back): replay from the prompt
            self.processor.reset(self._prompt)
            self.accepted = 0
        for token in output_token_ids[self.accepted:count]:
            self.processor.accept(int(token))
        self.accepted = count
