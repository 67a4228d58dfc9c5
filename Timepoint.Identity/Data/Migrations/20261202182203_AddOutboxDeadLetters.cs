using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Timepoint.Identity.Data.Migrations
{
    /// <inheritdoc />
    public partial class AddOutboxDeadLetters : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "DeadAt",
                table: "outbox",
                type: "timestamp with time zone",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "DeadAt",
                table: "outbox");
        }
    }
}
