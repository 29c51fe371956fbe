using System.Globalization;
using System.Text;

namespace Crm.Kit;

/// <summary>How caller-supplied text is quoted in messages and checked for characters no one can see.</summary>
internal static class InputText
{
    /// <summary>Longest part of an input that a message repeats.</summary>
    public const int QuotedLength = 64;

    /// <summary>
    /// The input in quotes for an error message: whole when short, else its first <see cref="QuotedLength"/>
    /// characters and its length, so a megabyte of input never becomes a megabyte of message or log.
    /// </summary>
    public static string Quote(string? input) => input is null ? "null"
        : input.Length <= QuotedLength ? $"'{input}'"
        : $"'{Prefix(input)}' ({input.Length.ToString("N0", CultureInfo.InvariantCulture)} characters)";

    /// <summary>The input itself when short, else its first <see cref="QuotedLength"/> characters and an ellipsis.</summary>
    public static string Prefix(string input)
    {
        if (input.Length <= QuotedLength)
        {
            return input;
        }

        // Never cut a surrogate pair in two: the message must stay valid text.
        var cut = char.IsHighSurrogate(input[QuotedLength - 1]) ? QuotedLength - 1 : QuotedLength;
        return input[..cut] + "…";
    }

    /// <summary>
    /// The index of the first character a reader cannot see or that is not text at all: controls, format characters
    /// (zero-width spaces and joiners, direction overrides, the byte-order mark, tag characters), line and paragraph
    /// separators, private-use and unassigned code points, and lone surrogates; -1 when there is none.
    /// </summary>
    public static int IndexOfInvisible(string text)
    {
        for (var i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var length) != System.Buffers.OperationStatus.Done)
            {
                return i;
            }

            if (Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned)
            {
                return i;
            }

            i += length;
        }

        return -1;
    }

    /// <summary>The index of the first surrogate that is not half of a pair; -1 when the text is valid UTF-16.</summary>
    public static int IndexOfLoneSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The index of the first U+0000 or lone surrogate, which no database text column can keep; -1 when there is none.</summary>
    public static int IndexOfUnstorable(string text)
    {
        var nul = text.IndexOf('\0', StringComparison.Ordinal);
        var lone = IndexOfLoneSurrogate(text);
        return nul < 0 ? lone : lone < 0 ? nul : Math.Min(nul, lone);
    }

    /// <summary>Names the code point at <paramref name="index"/> as U+XXXX, for messages.</summary>
    public static string CodePointAt(string text, int index) =>
        Rune.DecodeFromUtf16(text.AsSpan(index), out var rune, out _) == System.Buffers.OperationStatus.Done
            ? $"U+{rune.Value:X4}"
            : $"U+{(int)text[index]:X4} (a lone surrogate)";
}
