"""The RELLM LangChain example's prompt and regex, for the README's samples, `typedecode demo`,
the tests and the benchmarks.

`RELLM_PROMPT` is the few-shot prompt (Human / AI Assistant turns ending in a question about
Maryland); `RELLM_REGEX` the agent-action JSON its answer is constrained to. Plain strings: this
module imports nothing.
"""

__all__ = ["RELLM_PROMPT", "RELLM_REGEX"]

RELLM_PROMPT = """Human: "What's the capital of the United States?"
AI Assistant:{
  "action": "Final Answer",
  "action_input": "The capital of the United States is Washington D.C."
}
Human: "What's the capital of Pennsylvania?"
AI Assistant:{
  "action": "Final Answer",
  "action_input": "The capital of Pennsylvania is Harrisburg."
}
Human: "What 2 + 5?"
AI Assistant:{
  "action": "Final Answer",
  "action_input": "2 + 5 = 7."
}
Human: 'What's the capital of Maryland?'
AI Assistant:"""
"""The few-shot prompt of the RELLM LangChain example."""

RELLM_REGEX = r'\{\s*"action":\s*"Final Answer",\s*"action_input":\s*(\{.*\}|"[^"]*")\s*\}'
"""The agent-action JSON the RELLM example constrains the answer to."""
